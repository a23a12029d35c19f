// js↔js reference benches: a listener peer.mjs child process and a dialer in this process, over TCP loopback.
//   node bench.mjs throughput [--bytes N] [--protocol sink|echo] [--ip6]
//   node bench.mjs setup [--count N] [--warmup N] [--ip6]
// Prints one JSON object on stdout; progress goes to stderr.
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { multiaddr } from '@multiformats/multiaddr'
import { createNode, log } from './node.mjs'
import { commands } from './commands.mjs'

const LISTENER_START_MS = 20_000

function parseArgs (argv) {
  const options = { mode: argv[0], bytes: 1 << 30, protocol: 'sink', count: 200, warmup: 10, ip6: false, timeoutMs: 300_000 }
  for (let i = 1; i < argv.length; i++) {
    const next = () => argv[++i]
    switch (argv[i]) {
      case '--bytes': options.bytes = Number(next()); break
      case '--protocol': options.protocol = next(); break
      case '--count': options.count = Number(next()); break
      case '--warmup': options.warmup = Number(next()); break
      case '--timeout-ms': options.timeoutMs = Number(next()); break
      case '--ip6': options.ip6 = true; break
      default: throw new Error(`unknown argument ${argv[i]}`)
    }
  }
  if (!['throughput', 'setup'].includes(options.mode)) throw new Error('mode must be throughput or setup')
  return options
}

/** Starts peer.mjs as the listener in its own process (its own event loop, as a remote peer would have). */
async function startListener (listen) {
  const script = fileURLToPath(new URL('./peer.mjs', import.meta.url))
  const child = spawn(process.execPath, [script, '--listen', listen], { stdio: ['pipe', 'pipe', 'inherit'] })
  const lines = createInterface({ input: child.stdout })
  const ready = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('listener did not start')), LISTENER_START_MS)
    lines.on('line', (line) => {
      const message = JSON.parse(line)
      if (message.event === 'ready') { clearTimeout(timer); resolve(message) }
    })
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`listener exited with ${code}`)) })
  })
  return { child, addr: ready.addrs[0] }
}

function percentile (sorted, p) {
  const index = Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)
  return sorted[Math.max(0, index)]
}

async function throughput (dialer, addr, options, signal) {
  await dialer.dial(multiaddr(addr), { signal })
  if (options.protocol === 'echo') {
    const result = await commands.echo(dialer, {}, { addr, streams: 1, size: options.bytes }, signal)
    // Echo moves every byte both ways; report the one-way payload rate like the sink does.
    return { bench: 'js-stream-throughput', protocol: 'echo', bytes: result.bytes, seconds: result.ms / 1000, mbPerSec: result.mbPerSec }
  }
  const result = await commands.sink(dialer, {}, { addr, bytes: options.bytes }, signal)
  return { bench: 'js-stream-throughput', protocol: 'sink', bytes: result.bytes, seconds: result.ms / 1000, mbPerSec: result.mbPerSec }
}

/** Time from dial start to the identify result of a fresh connection, then hang up; warm-up rounds are dropped. */
async function setup (dialer, addr, options, signal) {
  const remote = addr.substring(addr.lastIndexOf('/p2p/') + 5)
  const times = []
  for (let round = 0; round < options.warmup + options.count; round++) {
    const identified = new Promise((resolve) => {
      const onIdentify = (evt) => {
        if (evt.detail.peerId.toString() !== remote) return
        dialer.removeEventListener('peer:identify', onIdentify)
        resolve()
      }
      dialer.addEventListener('peer:identify', onIdentify)
    })
    const started = performance.now()
    await dialer.dial(multiaddr(addr), { signal })
    await identified
    const ms = performance.now() - started
    if (round >= options.warmup) times.push(ms)
    await dialer.hangUp(multiaddr(addr), { signal })
  }
  times.sort((a, b) => a - b)
  return {
    bench: 'js-connection-setup',
    connections: times.length,
    medianMs: percentile(times, 0.5),
    p90Ms: percentile(times, 0.9),
    minMs: times[0],
    maxMs: times[times.length - 1]
  }
}

async function main () {
  const options = parseArgs(process.argv.slice(2))
  const listen = options.ip6 ? '/ip6/::1/tcp/0' : '/ip4/127.0.0.1/tcp/0'
  const signal = AbortSignal.timeout(options.timeoutMs)
  const listener = await startListener(listen)
  const dialer = await createNode({ listen: [listen] })
  try {
    log(`bench ${options.mode} against ${listener.addr}`)
    const result = options.mode === 'throughput'
      ? await throughput(dialer, listener.addr, options, signal)
      : await setup(dialer, listener.addr, options, signal)
    process.stdout.write(JSON.stringify({ ...result, node: process.version }) + '\n')
  } finally {
    await dialer.stop()
    listener.child.kill('SIGKILL')
  }
}

main().then(() => process.exit(0), (err) => {
  log('bench failed:', err.stack ?? err.message)
  process.exit(1)
})
