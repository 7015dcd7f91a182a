// credsd: Node.js client for the credential sidecar daemon. ES module, Node >= 18, standard library only.
// Protocol: proto/ in the credsd repository (4-byte big-endian length + one JSON-RPC 2.0 object per frame).

export {
  ResolveClient,
  AdminClient,
  DEFAULT_RESOLVE_SOCKET,
  DEFAULT_ADMIN_SOCKET,
  RESOLVE_MAX_FRAME_BYTES,
  ADMIN_MAX_FRAME_BYTES,
} from './src/clients.js';
export { Connection, ConnectionPool } from './src/connection.js';
export { Watcher } from './src/watch.js';
export { Receipt, IssuedGrant, REDACTED } from './src/receipt.js';
export { CredsdError, Reasons, ReasonCodes, ClientReasons } from './src/errors.js';
export { verifyWebhook, signWebhook, DEFAULT_WEBHOOK_TOLERANCE_SECONDS } from './src/webhooks.js';
export { outcomeFor } from './src/outcomes.js';
export { encodeFrame, FrameDecoder } from './src/framing.js';
