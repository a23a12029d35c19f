// A js-libp2p peer driven by one JSON command per stdin line; answers one JSON reply per stdout line.
//   node peer.mjs [--listen MA]... [--seed HEX32] [--dht] [--kad-protocol ID] [--mdns]
// Request:  {"id": 1, "cmd": "ping", "peer": "12D3KooW...", "timeoutMs": 10000}
// Reply:    {"id": 1, "ok": true, ...}  or  {"id": 1, "ok": false, "error": "..."}
// Events:   {"event": "ready" | "peer:connect" | "peer:disconnect" | "peer:identify" | "connection:open" | ...}
// Logs go to stderr only. See docs/interop.md for every command.
import { createInterface } from 'node:readline'
import { createNode, log } from './node.mjs'
import { commands } from './commands.mjs'

const DEFAULT_TIMEOUT_MS = 30_000

function parseArgs (argv) {
  const options = { listen: [], dht: false, mdns: false }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`)
      return argv[++i]
    }
    switch (arg) {
      case '--listen': options.listen.push(value()); break
      case '--seed': options.seed = value(); break
      case '--dht': options.dht = true; break
      case '--kad-protocol': options.kadProtocol = value(); break
      case '--mdns': options.mdns = true; break
      default: throw new Error(`unknown argument ${arg}`)
    }
  }
  if (options.listen.length === 0) options.listen = ['/ip4/127.0.0.1/tcp/0', '/ip6/::1/tcp/0']
  return options
}

function emit (message) {
  process.stdout.write(JSON.stringify(message) + '\n')
}

/** Runs one command under its own deadline; a command never outlives timeoutMs. */
async function run (node, state, request) {
  const handler = commands[request.cmd]
  if (handler == null) throw new Error(`unknown command '${request.cmd}'`)
  const timeoutMs = request.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const signal = AbortSignal.timeout(timeoutMs)
  let timer
  const deadline = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${request.cmd} timed out after ${timeoutMs} ms`)), timeoutMs)
  })
  try {
    return await Promise.race([handler(node, state, request, signal), deadline])
  } finally {
    clearTimeout(timer)
  }
}

async function main () {
  const options = parseArgs(process.argv.slice(2))
  const node = await createNode(options)
  const state = { identified: new Map(), waiters: new Set(), stopping: false }

  node.addEventListener('peer:identify', (evt) => {
    const result = evt.detail
    const summary = {
      peerId: result.peerId.toString(),
      protocols: result.protocols,
      listenAddrs: result.listenAddrs.map(a => a.toString()),
      agentVersion: result.agentVersion ?? null,
      protocolVersion: result.protocolVersion ?? null,
      observedAddr: result.observedAddr?.toString() ?? null
    }
    state.identified.set(summary.peerId, summary)
    for (const waiter of state.waiters) waiter(summary)
    emit({ event: 'peer:identify', ...summary })
  })
  node.addEventListener('peer:connect', (evt) => emit({ event: 'peer:connect', peerId: evt.detail.toString() }))
  node.addEventListener('peer:disconnect', (evt) => emit({ event: 'peer:disconnect', peerId: evt.detail.toString() }))
  node.addEventListener('peer:discovery', (evt) => emit({
    event: 'peer:discovery', peerId: evt.detail.id.toString(), addrs: evt.detail.multiaddrs.map(a => a.toString())
  }))
  node.addEventListener('connection:open', (evt) => emit({
    event: 'connection:open', id: evt.detail.id, peerId: evt.detail.remotePeer.toString(),
    remoteAddr: evt.detail.remoteAddr.toString(), direction: evt.detail.direction
  }))
  // The yamux GoAway codes (0 = normal) come from the muxer's internals: tests check that closing sends one.
  node.addEventListener('connection:close', (evt) => emit({
    event: 'connection:close',
    id: evt.detail.id,
    peerId: evt.detail.remotePeer.toString(),
    remoteGoAway: evt.detail.muxer?.remoteGoAway ?? null,
    localGoAway: evt.detail.muxer?.localGoAway ?? null
  }))

  emit({ event: 'ready', peerId: node.peerId.toString(), addrs: node.getMultiaddrs().map(a => a.toString()) })
  log('ready', node.peerId.toString())

  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity })
  const pending = new Set()
  for await (const line of lines) {
    if (line.trim() === '') continue
    let request
    try {
      request = JSON.parse(line)
    } catch (err) {
      emit({ id: null, ok: false, error: `bad JSON: ${err.message}` })
      continue
    }
    // Commands run concurrently (a test may ping while an echo is running); replies carry the request id.
    // stop waits for the commands before it so their replies are not cut off.
    if (request.cmd === 'stop') await Promise.allSettled(pending)
    const task = run(node, state, request)
      .then(result => emit({ id: request.id, ok: true, ...result }))
      .catch(err => {
        log(`${request.cmd} failed:`, err.stack ?? err.message)
        emit({ id: request.id, ok: false, error: err.message ?? String(err) })
      })
      .finally(() => pending.delete(task))
    pending.add(task)
    if (request.cmd === 'stop') break
  }
  // stdin closed or stop: the parent is gone or done; finish what runs, then leave.
  await Promise.allSettled(pending)
  if (!state.stopping) await node.stop()
  log('stopped')
  process.exit(0)
}

main().catch(err => {
  log('fatal:', err.stack ?? err.message)
  emit({ event: 'fatal', error: err.message })
  process.exit(1)
})
