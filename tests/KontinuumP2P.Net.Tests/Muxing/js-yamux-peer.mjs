// A bare js-libp2p yamux peer over plain TCP (no Noise), for the C# interop test of the yamux layer alone.
// Usage: node js-yamux-peer.mjs <harness dir with node_modules>
// Prints {"port":N}, then for the stream it opens itself {"jsStreamEcho":"..."} once the C# side echoed it.
import net from 'node:net'
import path from 'node:path'
import { pathToFileURL } from 'node:url'

const harness = process.argv[2]
const load = p => import(pathToFileURL(path.join(harness, 'node_modules', p)).href)
const { yamux } = await load('@libp2p/yamux/dist/src/index.js')
const { toMultiaddrConnection } = await load('@libp2p/tcp/dist/src/socket-to-conn.js')
const { defaultLogger } = await load('@libp2p/logger/dist/src/index.js')
const log = defaultLogger().forComponent('interop:yamux')

const server = net.createServer(async socket => {
  const maConn = toMultiaddrConnection({ socket, direction: 'inbound', log })
  const muxer = yamux()().createStreamMuxer(maConn)
  muxer.addEventListener('stream', async evt => {
    // Echo until the remote's FIN, then FIN back.
    const stream = evt.detail
    for await (const chunk of stream) {
      if (!stream.send(chunk)) await new Promise(resolve => stream.addEventListener('drain', resolve, { once: true }))
    }
    await stream.close()
  })
  const own = await muxer.createStream()
  own.send(new TextEncoder().encode('hello from js'))
  const closing = own.close()
  const chunks = []
  for await (const chunk of own) chunks.push(Buffer.from(chunk.subarray()))
  await closing
  process.stdout.write(JSON.stringify({ jsStreamEcho: Buffer.concat(chunks).toString() }) + '\n')
})
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n')
})
