// The commands peer.mjs accepts. Each takes (node, state, request, signal) and returns the reply fields.
import { randomBytes } from 'node:crypto'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { ECHO_PROTOCOL, SINK_PROTOCOL, sendAll } from './node.mjs'

const CHUNK = 64 * 1024
const RAW_CODEC = 0x55

/** A dial target from `addr` (multiaddr) or `peer` (PeerId text). */
function target (request) {
  if (request.addr != null) return multiaddr(request.addr)
  if (request.peer != null) return peerIdFromString(request.peer)
  throw new Error('the command needs "addr" or "peer"')
}

function peerOf (request) {
  if (request.peer != null) return peerIdFromString(request.peer)
  const text = request.addr ?? ''
  const at = text.lastIndexOf('/p2p/')
  if (at < 0) throw new Error('the command needs "peer" or an "addr" ending in /p2p/<id>')
  return peerIdFromString(text.substring(at + 5))
}

function describeConnection (conn) {
  return {
    connectionId: conn.id,
    peerId: conn.remotePeer.toString(),
    remoteAddr: conn.remoteAddr.toString(),
    direction: conn.direction,
    status: conn.status,
    multiplexer: conn.multiplexer ?? null,
    encryption: conn.encryption ?? null
  }
}

/** Sends `size` random bytes on a new echo stream and checks every byte that comes back. */
async function echoOne (conn, size, protocol, signal) {
  const data = randomBytes(size)
  const stream = await conn.newStream(protocol, { signal })
  const onAbort = () => stream.abort(new Error('echo timed out'))
  signal.addEventListener('abort', onAbort, { once: true })
  const started = performance.now()
  try {
    const sender = (async () => {
      for (let offset = 0; offset < size; offset += CHUNK) {
        await sendAll(stream, data.subarray(offset, Math.min(size, offset + CHUNK)), signal)
      }
      await stream.close({ signal })
    })().catch(err => { stream.abort(err); throw err })
    let received = 0
    for await (const buf of stream) {
      const bytes = Buffer.from(buf.subarray())
      if (received + bytes.length > size) throw new Error(`echo returned more than the ${size} bytes sent`)
      if (!bytes.equals(data.subarray(received, received + bytes.length))) {
        throw new Error(`echo returned different bytes near offset ${received}`)
      }
      received += bytes.length
    }
    await sender
    if (received !== size) throw new Error(`echo returned ${received} of ${size} bytes`)
    return performance.now() - started
  } catch (err) {
    stream.abort(err)
    throw err
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

/** Waits for the identify result of `peer` (cached from the automatic identify or the next one to arrive). */
function waitIdentify (state, peer, signal) {
  const cached = state.identified.get(peer)
  if (cached != null) return Promise.resolve(cached)
  return new Promise((resolve, reject) => {
    const waiter = (summary) => {
      if (summary.peerId !== peer) return
      cleanup()
      resolve(summary)
    }
    const onAbort = () => { cleanup(); reject(new Error(`no identify from ${peer}`)) }
    const cleanup = () => { state.waiters.delete(waiter); signal.removeEventListener('abort', onAbort) }
    state.waiters.add(waiter)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

async function cidOf (request) {
  if (request.cid != null) return CID.parse(request.cid)
  if (request.text != null) return CID.createV1(RAW_CODEC, await sha256.digest(new TextEncoder().encode(request.text)))
  throw new Error('the command needs "cid" or "text"')
}

function dht (node) {
  if (node.services.dht == null) throw new Error('this peer was started without --dht')
  return node.services.dht
}

const peerInfo = (info) => ({ peerId: info.id.toString(), addrs: info.multiaddrs.map(a => a.toString()) })

export const commands = {
  async info (node) {
    return {
      peerId: node.peerId.toString(),
      addrs: node.getMultiaddrs().map(a => a.toString()),
      protocols: node.getProtocols()
    }
  },

  async dial (node, state, request, signal) {
    const conn = await node.dial(target(request), { signal })
    return describeConnection(conn)
  },

  async connections (node, state, request) {
    const conns = request.peer != null ? node.getConnections(peerIdFromString(request.peer)) : node.getConnections()
    return { connections: conns.map(describeConnection) }
  },

  async hangUp (node, state, request, signal) {
    await node.hangUp(peerOf(request), { signal })
    state.identified.delete(peerOf(request).toString())
    return {}
  },

  async ping (node, state, request, signal) {
    const count = request.count ?? 1
    const rttMs = []
    for (let i = 0; i < count; i++) {
      rttMs.push(await node.services.ping.ping(target(request), { signal }))
    }
    return { rttMs }
  },

  async identify (node, state, request, signal) {
    const peer = peerOf(request)
    if (request.fresh === true) {
      const conn = node.getConnections(peer)[0] ?? await node.dial(peer, { signal })
      const result = await node.services.identify.identify(conn, { signal })
      return {
        peerId: result.peerId.toString(),
        protocols: result.protocols,
        listenAddrs: result.listenAddrs.map(a => a.toString()),
        agentVersion: result.agentVersion ?? null,
        protocolVersion: result.protocolVersion ?? null,
        observedAddr: result.observedAddr?.toString() ?? null
      }
    }
    return await waitIdentify(state, peer.toString(), signal)
  },

  async peerStore (node, state, request) {
    const peer = await node.peerStore.get(peerOf(request))
    const agent = peer.metadata.get('AgentVersion')
    return {
      peerId: peer.id.toString(),
      protocols: peer.protocols,
      addrs: peer.addresses.map(a => a.multiaddr.toString()),
      agentVersion: agent == null ? null : new TextDecoder().decode(agent)
    }
  },

  // Opens `streams` concurrent streams of `size` bytes on one connection and verifies the echoed content.
  async echo (node, state, request, signal) {
    const streams = request.streams ?? 1
    const size = request.size ?? 1024
    const protocol = request.protocol ?? ECHO_PROTOCOL
    const conn = await node.dial(target(request), { signal })
    const started = performance.now()
    const times = await Promise.all(Array.from({ length: streams }, () => echoOne(conn, size, protocol, signal)))
    const ms = performance.now() - started
    const bytes = streams * size
    return { streams, bytes, ms, maxStreamMs: Math.max(...times), mbPerSec: bytes / 1e6 / (ms / 1000) }
  },

  // Pushes `bytes` one way on a sink stream; the remote answers the count it received.
  async sink (node, state, request, signal) {
    const total = request.bytes ?? 1 << 20
    const conn = await node.dial(target(request), { signal })
    const stream = await conn.newStream(SINK_PROTOCOL, { signal })
    const chunk = randomBytes(CHUNK)
    const started = performance.now()
    for (let sent = 0; sent < total; sent += CHUNK) {
      await sendAll(stream, sent + CHUNK <= total ? chunk : chunk.subarray(0, total - sent), signal)
    }
    await stream.close({ signal })
    const reply = []
    for await (const buf of stream) reply.push(Buffer.from(buf.subarray()))
    const ms = performance.now() - started
    const answer = Buffer.concat(reply)
    if (answer.length !== 8) throw new Error(`sink answered ${answer.length} bytes instead of 8`)
    const counted = Number(answer.readBigUInt64BE(0))
    if (counted !== total) throw new Error(`sink counted ${counted} of ${total} bytes`)
    return { bytes: total, ms, mbPerSec: total / 1e6 / (ms / 1000) }
  },

  async 'dht.findPeer' (node, state, request, signal) {
    const wanted = peerIdFromString(request.peer)
    let rpcs = 0
    for await (const event of dht(node).findPeer(wanted, { signal })) {
      if (event.name === 'SEND_QUERY') rpcs++
      if (event.name === 'FINAL_PEER' && event.peer.id.equals(wanted)) return { ...peerInfo(event.peer), rpcs }
    }
    throw new Error(`peer ${request.peer} not found`)
  },

  async 'dht.closestPeers' (node, state, request, signal) {
    const key = request.peer != null ? peerIdFromString(request.peer).toMultihash().bytes : new TextEncoder().encode(request.key)
    const peers = []
    for await (const event of dht(node).getClosestPeers(key, { signal })) {
      if (event.name === 'FINAL_PEER') peers.push(peerInfo(event.peer))
    }
    return { peers }
  },

  async 'dht.put' (node, state, request, signal) {
    const key = new TextEncoder().encode(request.key)
    const value = Buffer.from(request.value, 'base64')
    const stored = new Set()
    const started = performance.now()
    for await (const event of dht(node).put(key, value, { signal })) {
      if (event.name === 'PEER_RESPONSE' && event.messageName === 'PUT_VALUE') stored.add(event.from.toString())
    }
    // ms: the query alone, without this command's stdin/stdout round trip (the DHT bench compares it with ours).
    return { key: request.key, stored: stored.size, holders: [...stored], ms: performance.now() - started }
  },

  async 'dht.get' (node, state, request, signal) {
    const key = new TextEncoder().encode(request.key)
    const holders = []
    let best = null
    const started = performance.now()
    for await (const event of dht(node).get(key, { signal })) {
      if (event.name === 'PEER_RESPONSE' && event.record != null) {
        holders.push({ peerId: event.from.toString(), value: Buffer.from(event.record.value).toString('base64') })
      }
      if (event.name === 'VALUE') best = event
    }
    if (best == null) throw new Error(`no value for ${request.key}`)
    const ms = performance.now() - started
    return { key: request.key, value: Buffer.from(best.value).toString('base64'), from: best.from.toString(), holders, ms }
  },

  async 'dht.provide' (node, state, request, signal) {
    const cid = await cidOf(request)
    let sent = 0
    for await (const event of dht(node).provide(cid, { signal })) {
      if (event.name === 'PEER_RESPONSE' && event.messageName === 'ADD_PROVIDER') sent++
    }
    return { cid: cid.toString(), sent }
  },

  async 'dht.providers' (node, state, request, signal) {
    const cid = await cidOf(request)
    const limit = request.limit ?? 20
    const found = new Map()
    for await (const event of dht(node).findProviders(cid, { signal })) {
      if (event.name !== 'PROVIDER') continue
      for (const provider of event.providers) found.set(provider.id.toString(), peerInfo(provider))
      if (found.size >= limit) break
    }
    return { cid: cid.toString(), providers: [...found.values()] }
  },

  async 'dht.routingTable' (node) {
    const table = dht(node).routingTable
    const peers = [...(table.kb?.toIterable() ?? [])].map(contact => contact.peerId.toString())
    return { size: table.size, mode: dht(node).getMode(), peers }
  },

  async stop (node, state) {
    state.stopping = true
    await node.stop()
    return {}
  }
}
