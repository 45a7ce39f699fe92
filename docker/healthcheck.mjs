// Docker HEALTHCHECK for the broker image: exit 0 when {BASE_PATH}/api/health answers 200
// (process up and the database reachable), 1 otherwise. Reads the same variables as the broker.
const port = process.env.PORT || '8080';
const base = (process.env.BASE_PATH || '').trim().replace(/\/+$/, '');
try {
  const res = await fetch(`http://127.0.0.1:${port}${base}/api/health`, {
    signal: AbortSignal.timeout(4000),
  });
  process.exit(res.ok ? 0 : 1);
} catch {
  process.exit(1);
}
