using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KontinuumP2P.Net.Discovery.Dns;

/// <summary>The answer to one lookup.</summary>
/// <param name="Name">The name asked for.</param>
/// <param name="Type">The type asked for.</param>
/// <param name="Records">Records of that type for the name (CNAME chains inside the answer followed); empty when none.</param>
/// <param name="ResponseCode">NoError or NameError (NXDOMAIN).</param>
/// <param name="FromCache">True when served from the cache.</param>
public sealed record DnsLookupResult(string Name, DnsRecordType Type, IReadOnlyList<DnsRecord> Records, DnsResponseCode ResponseCode, bool FromCache);

/// <summary>
/// A stub resolver on our own DNS codec: UDP with EDNS(0) to the configured servers, TCP when the answer is truncated,
/// answers checked against the query (source, id, question), and a cache (positive up to 60 s, negative 10 s).
/// </summary>
public sealed class DnsResolver
{
    private const int MaxCnameHops = 8;
    private const int MaxStrayDatagrams = 16;

    private readonly DnsResolverOptions _options;
    private readonly IReadOnlyList<IPEndPoint> _servers;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly DnsCache _cache;
    private long _queriesSent;

    /// <summary>Creates a resolver.</summary>
    /// <param name="options">Settings; null for defaults (servers from /etc/resolv.conf).</param>
    /// <param name="timeProvider">Clock for timeouts and cache expiry; null for the system clock.</param>
    /// <param name="loggerFactory">Logging; null for none.</param>
    public DnsResolver(DnsResolverOptions? options = null, TimeProvider? timeProvider = null, ILoggerFactory? loggerFactory = null)
    {
        _options = options ?? new DnsResolverOptions();
        _options.Validate();
        _servers = _options.EffectiveServers();
        _time = timeProvider ?? TimeProvider.System;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<DnsResolver>();
        _cache = new DnsCache(_options.MaxCacheEntries, _time);
    }

    /// <summary>The servers asked, in order.</summary>
    public IReadOnlyList<IPEndPoint> Servers => _servers;

    /// <summary>Queries sent to servers so far (cache hits send none).</summary>
    public long QueriesSent => Interlocked.Read(ref _queriesSent);

    /// <summary>Looks up records of <paramref name="type"/> for <paramref name="name"/>, from the cache when fresh.</summary>
    /// <exception cref="DnsResolutionException">No server answered usefully.</exception>
    /// <exception cref="DnsFormatException">The name is not a valid DNS name.</exception>
    public async ValueTask<DnsLookupResult> QueryAsync(string name, DnsRecordType type, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        name = name.TrimEnd('.');
        DnsMessageWriter.SplitLabels(name); // validates before any traffic
        if (_cache.TryGet(name, type, out var cached)) return cached!;
        var response = await ExchangeAsync(name, type, cancellationToken).ConfigureAwait(false);
        var records = FollowAnswer(response, name, type);
        var result = new DnsLookupResult(name, type, records, response.ResponseCode, FromCache: false);
        var lifetime = records.Count == 0
            ? _options.NegativeCacheTime
            : TimeSpan.FromSeconds(Math.Min(_options.PositiveCacheTime.TotalSeconds, records.Min(r => r.Ttl)));
        _cache.Add(name, type, result, lifetime);
        DnsLog.Answered(_logger, name, type, response.ResponseCode, records.Count);
        return result;
    }

    private async ValueTask<DnsMessage> ExchangeAsync(string name, DnsRecordType type, CancellationToken cancellationToken)
    {
        var failures = new List<string>();
        for (var attempt = 0; attempt < _options.Attempts; attempt++)
        {
            foreach (var server in _servers)
            {
                var id = (ushort)RandomNumberGenerator.GetInt32(0, 65536);
                var edns = new UnknownDnsRecord("", (ushort)_options.UdpPayloadSize, 0, (ushort)DnsRecordType.Opt, []);
                var query = DnsMessageWriter.Encode(
                    DnsMessage.Query(id, DnsMessage.RecursionDesiredFlag, new DnsQuestion(name, type), [edns]), 512);
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(_options.Timeout);
                try
                {
                    Interlocked.Increment(ref _queriesSent);
                    var response = await ExchangeUdpAsync(server, query, id, name, type, timeout.Token).ConfigureAwait(false);
                    if (response.IsTruncated)
                        response = await ExchangeTcpAsync(server, query, id, name, type, timeout.Token).ConfigureAwait(false);
                    if (response.ResponseCode is DnsResponseCode.NoError or DnsResponseCode.NameError) return response;
                    failures.Add($"{server}: {response.ResponseCode}");
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    failures.Add($"{server}: no answer within {_options.Timeout.TotalSeconds:0.#} s");
                }
                catch (Exception e) when (e is SocketException or DnsFormatException or IOException)
                {
                    failures.Add($"{server}: {e.Message}");
                }
            }
        }
        throw new DnsResolutionException($"DNS {type} lookup of '{name}' failed: {string.Join("; ", failures.Distinct())}");
    }

    private static async ValueTask<DnsMessage> ExchangeUdpAsync(
        IPEndPoint server, byte[] query, ushort id, string name, DnsRecordType type, CancellationToken cancellationToken)
    {
        using var socket = new Socket(server.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        await socket.ConnectAsync(server, cancellationToken).ConfigureAwait(false); // the kernel drops other sources
        await socket.SendAsync(query, SocketFlags.None, cancellationToken).ConfigureAwait(false);
        var buffer = new byte[4096];
        for (var stray = 0; stray < MaxStrayDatagrams; stray++)
        {
            var length = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            if (DnsMessageReader.TryDecode(buffer.AsSpan(0, length), out var response, out _) && Matches(response!, id, name, type))
                return response!;
        }
        throw new DnsFormatException("no matching answer among the datagrams received");
    }

    private static async ValueTask<DnsMessage> ExchangeTcpAsync(
        IPEndPoint server, byte[] query, ushort id, string name, DnsRecordType type, CancellationToken cancellationToken)
    {
        using var socket = new Socket(server.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(server, cancellationToken).ConfigureAwait(false);
        var framed = new byte[query.Length + 2];
        BinaryPrimitives.WriteUInt16BigEndian(framed, (ushort)query.Length);
        query.CopyTo(framed, 2);
        await socket.SendAsync(framed, SocketFlags.None, cancellationToken).ConfigureAwait(false);
        var lengthBytes = new byte[2];
        await ReceiveExactlyAsync(socket, lengthBytes, cancellationToken).ConfigureAwait(false);
        var body = new byte[BinaryPrimitives.ReadUInt16BigEndian(lengthBytes)]; // at most 65535 by construction
        await ReceiveExactlyAsync(socket, body, cancellationToken).ConfigureAwait(false);
        var response = DnsMessageReader.Decode(body);
        return Matches(response, id, name, type) ? response : throw new DnsFormatException("TCP answer does not match the query");
    }

    private static async ValueTask ReceiveExactlyAsync(Socket socket, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        while (buffer.Length > 0)
        {
            var read = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            if (read == 0) throw new IOException("DNS server closed the TCP connection early");
            buffer = buffer[read..];
        }
    }

    private static bool Matches(DnsMessage response, ushort id, string name, DnsRecordType type) =>
        response.IsResponse && response.Id == id && response.Questions.Count == 1
        && string.Equals(response.Questions[0].Name, name, StringComparison.OrdinalIgnoreCase) && response.Questions[0].Type == type;

    private static List<DnsRecord> FollowAnswer(DnsMessage response, string name, DnsRecordType type)
    {
        var current = name;
        for (var hop = 0; hop <= MaxCnameHops; hop++)
        {
            var owner = current;
            var matching = response.Answers.Where(r => r.Type == type && string.Equals(r.Name, owner, StringComparison.OrdinalIgnoreCase)).ToList();
            if (matching.Count > 0) return matching;
            var alias = response.Answers.OfType<NameDnsRecord>()
                .FirstOrDefault(r => r.Type == DnsRecordType.Cname && string.Equals(r.Name, owner, StringComparison.OrdinalIgnoreCase));
            if (alias is null) break;
            current = alias.Target;
        }
        return [];
    }
}
