# basket as a container: Node.js 24 LTS, runs as the unprivileged user `node`, data in the volume /data.
#   docker build -t basket .
#   docker run -p 8080:8080 -v basket-data:/data -e PARTNERS_JSON='[...]' -e ADMIN_KEY=... basket
# The build stage runs scripts/build-production.sh (npm run build, npm prune --omit=dev), the script that
# test/production-start.test.ts runs and starts. Settings and the production checklist: docs/deploy.md.

FROM node:24-slim AS build
WORKDIR /app
# better-sqlite3 compiles from source when no prebuilt binary for this Node.js can be fetched
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
RUN bash scripts/build-production.sh

FROM node:24-slim
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080 DATA_DIR=/data
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# the development partner's catalogue (only read with DEV_PARTNER=true, for a first look)
COPY demo ./demo
# `docker run --rm basket node scripts/service-key.mjs`: a new guest-token signing key (docs/deploy.md)
COPY scripts/service-key.mjs ./scripts/
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+process.env.PORT+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# node itself as PID 1 (not npm): SIGTERM from `docker stop` reaches the service's own shutdown
CMD ["node", "--max-old-space-size=128", "--max-semi-space-size=4", "--no-allocation-site-pretenuring", "dist/main.js"]
