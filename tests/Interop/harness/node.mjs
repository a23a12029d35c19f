// Builds the js-libp2p node the harness drives: TCP + Noise + Yamux, identify (+push), ping, the Kontinuum echo and
// sink test protocols, and optionally kad-dht and mDNS. Shared by peer.mjs (command loop) and bench.mjs.
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { identify, identifyPush } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { mdns } from '@libp2p/mdns'
import { generateKeyPair, generateKeyPairFromSeed } from '@libp2p/crypto/keys'

export const ECHO_PROTOCOL = '/kontinuum/echo/1.0.0'
export const SINK_PROTOCOL = '/kontinuum/sink/1.0.0'
export const DEFAULT_KAD_PROTOCOL = '/ipfs/kad/1.0.0'
export const TEST_NAMESPACE = 'test'

// Tests open 100+ concurrent streams of one protocol on one connection; js defaults to 32 in / 64 out.
const STREAM_LIMITS = { maxInboundStreams: 1024, maxOutboundStreams: 1024 }

/** Logs to stderr only: stdout carries the JSON protocol. */
export function log (...parts) {
  process.stderr.write(`[harness ${new Date().toISOString()}] ${parts.join(' ')}\n`)
}

/** Writes bytes and waits for the stream to accept more when its buffer is full. */
export async function sendAll (stream, chunk, signal) {
  if (!stream.send(chunk)) {
    await stream.onDrain({ signal })
  }
}

/** Echoes every byte back until the remote half-closes, then half-closes too. */
async function handleEcho (stream) {
  try {
    for await (const buf of stream) {
      await sendAll(stream, buf)
    }
    await stream.close()
  } catch (err) {
    log('echo stream failed:', err.message)
    stream.abort(err)
  }
}

/** Counts bytes until the remote half-closes, then answers the count as 8 big-endian bytes. */
async function handleSink (stream) {
  try {
    let total = 0
    for await (const buf of stream) {
      total += buf.byteLength
    }
    const reply = new Uint8Array(8)
    new DataView(reply.buffer).setBigUint64(0, BigInt(total))
    await sendAll(stream, reply)
    await stream.close()
  } catch (err) {
    log('sink stream failed:', err.message)
    stream.abort(err)
  }
}

/** Leading decimal sequence number of a `/test/` record value, or -1 when there is none. */
export function testSequence (value) {
  const text = new TextDecoder().decode(value.subarray(0, 32))
  const match = /^(\d+)/.exec(text)
  return match == null ? -1 : Number(match[1])
}

// `/test/` records: the value must start with a decimal sequence number and be at most 8 KiB; the highest wins.
const testValidator = (key, value) => {
  if (value.byteLength > 8192) throw new Error('test record larger than 8 KiB')
  if (testSequence(value) < 0) throw new Error('test record value must start with a decimal sequence number')
}
const testSelector = (key, records) => {
  let best = 0
  for (let i = 1; i < records.length; i++) {
    if (testSequence(records[i]) > testSequence(records[best])) best = i
  }
  return best
}

/**
 * Creates and starts a node.
 * @param {object} options listen (string[]), seed (hex of 32 bytes, optional), dht (bool), kadProtocol, mdns (bool)
 */
export async function createNode (options) {
  const privateKey = options.seed
    ? await generateKeyPairFromSeed('Ed25519', Buffer.from(options.seed, 'hex'))
    : await generateKeyPair('Ed25519')
  const services = {
    identify: identify(),
    identifyPush: identifyPush(),
    ping: ping()
  }
  if (options.dht) {
    services.dht = kadDHT({
      protocol: options.kadProtocol ?? DEFAULT_KAD_PROTOCOL,
      clientMode: false,
      // The default mapper drops loopback addresses, which would hide every test peer.
      peerInfoMapper: passthroughMapper,
      validators: { [TEST_NAMESPACE]: testValidator },
      selectors: { [TEST_NAMESPACE]: testSelector },
      // Tests start from an empty table and seed it by dialing.
      allowQueryWithZeroPeers: true
    })
  }
  const node = await createLibp2p({
    privateKey,
    addresses: { listen: options.listen },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    peerDiscovery: options.mdns ? [mdns()] : [],
    services,
    connectionManager: {
      // Benches and tests open hundreds of connections per second from one host.
      inboundConnectionThreshold: 100_000,
      maxIncomingPendingConnections: 1000,
      maxConnections: 2000
    }
  })
  await node.handle(ECHO_PROTOCOL, handleEcho, STREAM_LIMITS)
  await node.handle(SINK_PROTOCOL, handleSink, STREAM_LIMITS)
  return node
}
