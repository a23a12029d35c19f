using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using KontinuumP2P.Certs.Ceremony;
using KontinuumP2P.Certs.Encoding;
using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Hq.Admin;

/// <summary>
/// A certificate request signed by the node key it names (proof of possession), as sent to <c>POST /certs/issue</c>
/// with an enrollment token.
/// </summary>
public sealed record SignedCertificateRequest
{
    private static readonly byte[] Domain = "kontinuum-cert-request-v1\0"u8.ToArray();

    /// <summary>The request JSON text (<see cref="CertificateRequest"/>).</summary>
    [JsonPropertyName("request")]
    public required string Request { get; init; }

    /// <summary>Hex Ed25519 signature by the requested node key over the domain and the request text.</summary>
    [JsonPropertyName("signature")]
    public required string Signature { get; init; }

    /// <summary>The single-use enrollment token.</summary>
    [JsonPropertyName("token")]
    public required string Token { get; init; }

    /// <summary>Signs <paramref name="request"/> with the node's key (which must be the one it names).</summary>
    public static SignedCertificateRequest Create(CertificateRequest request, Ed25519Identity nodeKey, string token)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(nodeKey);
        if (!string.Equals(request.NodePublicKey, Convert.ToHexStringLower(nodeKey.PublicKey), StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException("the key is not the node key the request names", nameof(nodeKey));
        var text = request.ToJson();
        return new SignedCertificateRequest { Request = text, Signature = Convert.ToHexStringLower(nodeKey.Sign(Message(text))), Token = token };
    }

    /// <summary>Parses the request and checks the signature.</summary>
    /// <exception cref="TrustFormatException">Malformed request or bad signature.</exception>
    public CertificateRequest Verify()
    {
        var request = CertificateRequest.Parse(Request);
        byte[] key, signature;
        try
        {
            key = Convert.FromHexString(request.NodePublicKey);
            signature = Convert.FromHexString(Signature);
        }
        catch (FormatException e)
        {
            throw new TrustFormatException($"nodePublicKey or signature is not hex: {e.Message}", e);
        }
        if (!Ed25519Identity.Verify(key, Message(Request), signature))
            throw new TrustFormatException("the request is not signed by the node key it names");
        return request;
    }

    /// <summary>JSON text of this object.</summary>
    public string ToJson() => JsonSerializer.Serialize(this);

    private static byte[] Message(string text) => [.. Domain, .. Encoding.UTF8.GetBytes(text)];
}
