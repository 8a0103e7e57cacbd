/**
 * One attacker process of the bench's `slow-attack` scenario (issue 17 items 1 and 2): holds `count` connections
 * to the service, from the given local addresses in turn, each sending the headers of a request with a body and
 * then going silent (POST /landing, the Stripe webhook with a well-formed fresh signature, guest creation with an
 * API key) or sending nothing at all. A connection the service closes is opened again a second later, so the
 * pressure lasts. Several processes share the work: one process cannot hold 20,000 sockets under a 20,000 file limit.
 *
 *   node bench/slow-attack.mjs <port> <count> <address,address,...> <apiKey>
 *
 * On the IPC message 'stop' it closes everything and sends back its counts.
 */
import net from 'node:net';

const [port, count, addressList, apiKey] = [Number(process.argv[2]), Number(process.argv[3]), process.argv[4].split(','), process.argv[5]];
const REOPEN_MS = 1000;

const kinds = [
  () => 'POST /landing HTTP/1.1\r\nHost: bench\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 200\r\n\r\njayToken=',
  () =>
    `POST /psp/stripe/webhook HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: 200\r\n` +
    `Stripe-Signature: t=${Math.floor(Date.now() / 1000)},v1=${'5'.repeat(64)}\r\n\r\n{"id":"evt_`,
  () => `POST /v2/baskets/guests HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nX-API-Key: ${apiKey}\r\nContent-Length: 200\r\n\r\n{"products":`,
  () => '',
];

const counts = { connects: 0, open: 0, peakOpen: 0, closedByService: 0, answered503: 0, answered408: 0, answeredOther: 0, connectErrors: 0 };
const sockets = new Set();
let stopping = false;

function open(slot) {
  if (stopping) return;
  const localAddress = addressList[slot % addressList.length];
  const socket = net.connect({ port, host: '127.0.0.1', localAddress });
  let connected = false;
  let firstBytes = '';
  sockets.add(socket);
  socket.setNoDelay(true);
  socket.on('connect', () => {
    connected = true;
    counts.connects++;
    counts.open++;
    counts.peakOpen = Math.max(counts.peakOpen, counts.open);
    const head = kinds[slot % kinds.length]();
    if (head) socket.write(head);
  });
  socket.on('data', (d) => {
    if (firstBytes.length < 16) firstBytes += d.toString('latin1', 0, 16);
  });
  socket.on('error', () => {
    if (!connected) counts.connectErrors++;
  });
  socket.on('close', () => {
    sockets.delete(socket);
    if (connected) {
      counts.open--;
      if (!stopping) {
        counts.closedByService++;
        if (firstBytes.startsWith('HTTP/1.1 503')) counts.answered503++;
        else if (firstBytes.startsWith('HTTP/1.1 408')) counts.answered408++;
        else if (firstBytes.startsWith('HTTP/1.1')) counts.answeredOther++;
      }
    }
    if (!stopping) setTimeout(() => open(slot), REOPEN_MS + Math.floor(Math.random() * 250)).unref();
  });
}

// ramp up in batches, so that connects do not all land in one tick
let next = 0;
const ramp = setInterval(() => {
  for (let i = 0; i < 500 && next < count; i++) open(next++);
  if (next >= count) {
    clearInterval(ramp);
    process.send?.({ ready: true });
  }
}, 20);

process.on('message', (msg) => {
  if (msg !== 'stop') return;
  stopping = true;
  clearInterval(ramp);
  const snapshot = { ...counts };
  for (const s of sockets) s.destroy();
  process.send?.({ counts: snapshot }, () => process.exit(0));
});
// the bench went away: so do we
process.on('disconnect', () => process.exit(0));
