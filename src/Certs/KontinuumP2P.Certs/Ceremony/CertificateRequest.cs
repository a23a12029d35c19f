using System.Text.Json;
using System.Text.Json.Serialization;
using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Certs.Encoding;

namespace KontinuumP2P.Certs.Ceremony;

/// <summary>
/// A human-editable certificate request (JSON), made by <c>cert request</c> and turned into a certificate body by
/// <c>cert issue</c>, which adds issued_at, valid_until and the serial.
/// </summary>
public sealed record CertificateRequest
{
    /// <summary>Largest request file read.</summary>
    public const int MaxLength = 16 * 1024;

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    /// <summary>The node's raw Ed25519 key, hex.</summary>
    public required string NodePublicKey { get; init; }

    /// <summary>0, 1 or 2.</summary>
    public int Tier { get; init; } = 1;

    /// <summary><c>single</c> or <c>multi</c>.</summary>
    public string Tenancy { get; init; } = "multi";

    /// <summary><c>org</c>, <c>partner</c>, <c>byo:vps</c>, <c>byo:home</c>.</summary>
    public string Operator { get; init; } = "org";

    /// <summary>Served identity, hex (single tenancy).</summary>
    public string ServedIdentity { get; init; } = "";

    /// <summary>Capabilities.</summary>
    public IReadOnlyList<string> Capabilities { get; init; } = ["dht"];

    /// <summary>Storage offered, bytes.</summary>
    public ulong StorageBytes { get; init; }

    /// <summary>Sessions offered.</summary>
    public uint Sessions { get; init; }

    /// <summary>Hosting provider.</summary>
    public string Provider { get; init; } = "";

    /// <summary>Geo zone.</summary>
    public string GeoZone { get; init; } = "";

    /// <summary>Requested validity in days.</summary>
    public int ValidDays { get; init; } = 365;

    /// <summary>The JSON text.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Parses JSON text.</summary>
    /// <exception cref="TrustFormatException">Malformed or unknown fields.</exception>
    public static CertificateRequest Parse(string json)
    {
        if (json.Length > MaxLength) throw new TrustFormatException($"request is over {MaxLength} characters");
        try
        {
            return JsonSerializer.Deserialize<CertificateRequest>(json, Json) ?? throw new TrustFormatException("request is empty");
        }
        catch (JsonException e)
        {
            throw new TrustFormatException($"request is malformed: {e.Message}", e);
        }
    }

    /// <summary>The certificate body this request asks for, issued at <paramref name="issuedAt"/>.</summary>
    /// <exception cref="TrustFormatException">A field is invalid; the message names it.</exception>
    public CertificateBody ToBody(DateTimeOffset issuedAt, ulong serial)
    {
        if (ValidDays is < 1 or > 3660) throw new TrustFormatException($"validDays {ValidDays} is outside 1..3660");
        var key = AnchorSetJson.Hex(NodePublicKey, "nodePublicKey");
        if (key.Length != 32) throw new TrustFormatException($"nodePublicKey is {key.Length} bytes, expected 32");
        var issued = DateTimeOffset.FromUnixTimeSeconds(issuedAt.ToUnixTimeSeconds());
        var body = new CertificateBody
        {
            NodeId = CertificateBody.NodeIdOf(key),
            NodePublicKey = key,
            Tier = Tier,
            Tenancy = Tenancy switch
            {
                "single" => Certificates.Tenancy.Single,
                "multi" => Certificates.Tenancy.Multi,
                _ => throw new TrustFormatException($"tenancy '{Tenancy}' is not single or multi"),
            },
            Operator = Operator,
            ServedIdentity = AnchorSetJson.Hex(ServedIdentity, "servedIdentity"),
            Capabilities = [.. CertificateCodec.Canonical(Capabilities)],
            Capacity = new NodeCapacity(StorageBytes, Sessions),
            Provider = Provider,
            GeoZone = GeoZone,
            IssuedAt = issued,
            ValidUntil = issued.AddDays(ValidDays),
            Serial = serial,
        };
        body.Validate();
        return body;
    }
}
