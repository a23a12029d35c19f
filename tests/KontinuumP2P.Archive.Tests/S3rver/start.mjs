// Starts s3rver on 127.0.0.1 (an ephemeral port) with a directory and bucket from the command line, prints
// {"port": P} on one line once listening, and stops when stdin closes (the test process ended or killed it).
import S3rver from 's3rver';

const [directory, bucket] = process.argv.slice(2);
const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  directory,
  silent: process.env.S3RVER_LOG !== "1",
  configureBuckets: [{ name: bucket }],
});
const { port } = await server.run();
process.stdout.write(JSON.stringify({ port }) + '\n');
process.stdin.resume();
process.stdin.on('end', async () => {
  await server.close();
  process.exit(0);
});
