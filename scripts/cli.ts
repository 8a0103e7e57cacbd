/** What the command-line scripts share: one-line failures and the validated configuration. */
import { ConfigError, loadConfig, type Config } from '../src/config.js';

/** Returns `fail(message)`: prints `name: message` to stderr and exits 1. */
export function failer(name: string): (message: string) => never {
  return (message) => {
    console.error(`${name}: ${message}`);
    process.exit(1);
  };
}

/** The configuration from the environment; a bad setting ends the script with its one-line message. */
export function configOrFail(fail: (message: string) => never): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
}
