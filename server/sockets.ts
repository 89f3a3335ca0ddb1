/**
 * socket.io on the server. The handshake is refused from a foreign Origin (and, on loopback, for a
 * foreign Host) and without a principal (the session cookie, `Authorization: Bearer KEY`, or
 * `auth: { token: KEY }` in the client's options). A client subscribes to flows (`subscribe { flowId }`) and gets their
 * `status` (at once, then as the runtime reports it) and `log` lines; test runs stream `preview:records`
 * and `preview:done` to the socket that asked, or to the flow's subscribers who may run test runs
 * themselves (editors and admins: a viewer sees no test-run data, server/auth/policy.ts).
 */
import type { IncomingMessage } from 'node:http';
import type { Server, ServerOptions, Socket } from 'socket.io';
import { errorMessage, LIMITS } from '../runtime/host.js';
import { foreignOrigin, hostAllowed, REBINDING_MESSAGE, type Site } from './auth/site.js';
import type { AppContext } from './context.js';
import { roleAtLeast, type Role } from './store/auth-store.js';
import type { PreviewEvents, PreviewTarget } from './previews.js';

/** status and log lines: every subscriber (viewers too) */
const room = (flowId: string) => `flow:${flowId}`;
/** test-run records, summaries and logs: the subscribers who may run test runs (POST …/preview is for editors) */
const PREVIEW_ROOM = 'preview:';
const previewRoom = (flowId: string) => `${PREVIEW_ROOM}${flowId}`;
const PREVIEW_ROLE: Role = 'editor';

type Ack = (answer: { ok: boolean; error?: string }) => void;

function flowIdOf(msg: unknown): string | undefined {
  const id = (msg as { flowId?: unknown } | null)?.flowId;
  return typeof id === 'string' && id.length > 0 && id.length <= LIMITS.nameLength ? id : undefined;
}

/** engine.io's check of every handshake request (polling and websocket), before socket.io sees it */
export function handshakeCheck(site: Site): ServerOptions['allowRequest'] {
  return (req: IncomingMessage, done) => {
    if (!hostAllowed(site, req.headers.host)) return done(REBINDING_MESSAGE, false);
    const foreign = foreignOrigin(req.headers, site);
    done(foreign ?? null, foreign === undefined);
  };
}

/** the principal of a socket's handshake, now (a session may have ended, a key been revoked since) */
function principalOf(ctx: Pick<AppContext, 'auth'>, socket: Socket, use = true) {
  const token = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
  const h = socket.handshake.headers;
  return ctx.auth.authenticate(h.cookie, h.authorization, typeof token === 'string' ? token : undefined, use);
}

/** wires the events; returns a function that unwires them. Every `recheckMs` the sockets whose
 * session ended or whose key was revoked are disconnected. */
export function attachSockets(io: Server, ctx: Pick<AppContext, 'manager' | 'previews' | 'log' | 'auth'>, recheckMs = 30_000): () => void {
  io.use(async (socket, next) => {
    try {
      const principal = await principalOf(ctx, socket);
      if (!principal) return next(new Error('sign in first: no valid session cookie or API key'));
      socket.data.principal = principal;
      next();
    } catch (err) {
      ctx.log.error(`socket.io: cannot check a handshake: ${errorMessage(err)}`);
      next(new Error('the server cannot check sign-ins now: try again'));
    }
  });
  const recheckOne = async (socket: Socket) => {
    // a check, not a use: an open tab does not keep its session alive
    const principal = await principalOf(ctx, socket, false);
    socket.data.principal = principal;
    if (!principal) socket.disconnect(true);
    // a user whose role was lowered below editor since subscribing stops getting test runs
    else if (!roleAtLeast(principal.role, PREVIEW_ROLE)) for (const r of [...socket.rooms]) if (r.startsWith(PREVIEW_ROOM)) void socket.leave(r);
  };
  const recheck = setInterval(() => {
    for (const socket of io.of('/').sockets.values()) recheckOne(socket).catch((err: unknown) => ctx.log.warn(`socket.io: cannot recheck a socket's sign-in: ${errorMessage(err)}`));
  }, recheckMs);
  recheck.unref();
  // the role as last checked (at the handshake, a subscribe, or the periodic recheck): a test run's
  // records are sent far too often to ask the store each time
  const mayPreview = (socket: Socket) => {
    const principal = socket.data.principal as { role: Role } | undefined;
    return principal !== undefined && roleAtLeast(principal.role, PREVIEW_ROLE);
  };
  io.on('connection', (socket: Socket) => {
    const handle = (event: 'subscribe' | 'unsubscribe') => async (msg: unknown, ack?: unknown) => {
      const reply = typeof ack === 'function' ? (ack as Ack) : () => undefined;
      const flowId = flowIdOf(msg);
      if (!flowId) return reply({ ok: false, error: `${event} needs { flowId: string } (at most ${LIMITS.nameLength} characters)` });
      if (event === 'subscribe') {
        void socket.join(room(flowId));
        // the role now (a user's role may have been lowered since the handshake)
        try {
          socket.data.principal = await principalOf(ctx, socket, false);
        } catch (err) {
          return reply({ ok: false, error: `cannot check your sign-in now: ${errorMessage(err)}` });
        }
        if (mayPreview(socket)) void socket.join(previewRoom(flowId));
        socket.emit('status', ctx.manager.status(flowId)); // the current state at once
      } else {
        void socket.leave(room(flowId));
        void socket.leave(previewRoom(flowId));
      }
      reply({ ok: true });
    };
    socket.on('subscribe', handle('subscribe'));
    socket.on('unsubscribe', handle('unsubscribe'));
  });

  // the socket that asked (if it may see test runs: an editor cannot stream one to a viewer), or the flow's preview room
  const to = (t: PreviewTarget) => {
    if (!t.socketId) return io.to(previewRoom(t.flowId));
    const socket = io.of('/').sockets.get(t.socketId);
    return socket && mayPreview(socket) ? socket : undefined;
  };
  const send = (what: string, fn: () => void) => {
    try {
      fn();
    } catch (err) {
      ctx.log.error(`socket.io: cannot send ${what}: ${errorMessage(err)}`);
    }
  };
  const onRecords = (e: PreviewEvents['records'][0]) =>
    send('preview:records', () =>
      to(e)?.emit('preview:records', { previewId: e.previewId, flowId: e.flowId, node: e.node, direction: e.direction, port: e.port, records: e.records }),
    );
  const onDone = (e: PreviewEvents['done'][0]) =>
    send('preview:done', () => to(e)?.emit('preview:done', { previewId: e.previewId, flowId: e.flowId, summary: e.summary, logs: e.logs }));
  ctx.previews.on('records', onRecords);
  ctx.previews.on('done', onDone);
  const offStatus = ctx.manager.onStatus((s) => send('status', () => io.to(room(s.flowId)).emit('status', s)));
  const offLog = ctx.manager.onLog((l) => send('log', () => io.to(room(l.flowId)).emit('log', l)));
  return () => {
    clearInterval(recheck);
    ctx.previews.off('records', onRecords);
    ctx.previews.off('done', onDone);
    offStatus();
    offLog();
  };
}
