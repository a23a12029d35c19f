using System.Text.Json.Nodes;
using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Certs.Encoding;
using KontinuumP2P.Certs.Revocation;
using KontinuumP2P.Certs.Trust;

namespace KontinuumP2P.Certs.Ceremony;

/// <summary>JSON views of signed documents for <c>show</c> commands (binary fields as hex, times as ISO 8601).</summary>
public static class DocumentJson
{
    /// <summary>Describes any signed document.</summary>
    /// <exception cref="TrustFormatException">The body is malformed.</exception>
    public static JsonObject Describe(SignedDocument document) => document.Kind switch
    {
        DocumentKind.Certificate => Describe(Certificate.FromDocument(document)),
        DocumentKind.Crl => Describe(Crl.FromDocument(document)),
        _ => Describe(AnchorTransition.FromDocument(document)),
    };

    /// <summary>Describes a certificate.</summary>
    public static JsonObject Describe(Certificate certificate)
    {
        var b = certificate.Body;
        return new JsonObject
        {
            ["kind"] = "certificate",
            ["nodeId"] = b.PeerId.ToString(),
            ["nodePubkey"] = Convert.ToHexStringLower(b.NodePublicKey.Span),
            ["tier"] = b.Tier,
            ["tenancy"] = b.Tenancy == Tenancy.Single ? "single" : "multi",
            ["operator"] = b.Operator,
            ["servedIdentity"] = Convert.ToHexStringLower(b.ServedIdentity.Span),
            ["capabilities"] = new JsonArray([.. b.Capabilities.Select(c => (JsonNode)c)]),
            ["capacity"] = new JsonObject { ["storageBytes"] = b.Capacity.StorageBytes, ["sessions"] = b.Capacity.Sessions },
            ["provider"] = b.Provider,
            ["geoZone"] = b.GeoZone,
            ["issuedAt"] = b.IssuedAt.ToString("O"),
            ["validUntil"] = b.ValidUntil.ToString("O"),
            ["serial"] = b.Serial,
            ["signatures"] = Signatures(certificate.Document),
        };
    }

    /// <summary>Describes a CRL.</summary>
    public static JsonObject Describe(Crl crl)
    {
        var b = crl.Body;
        return new JsonObject
        {
            ["kind"] = "crl",
            ["crlNumber"] = b.CrlNumber,
            ["issuedAt"] = b.IssuedAt.ToString("O"),
            ["nextUpdate"] = b.NextUpdate.ToString("O"),
            ["anchorSetVersion"] = b.AnchorSetVersion,
            ["revokedNodes"] = new JsonArray([.. b.RevokedNodes.Select(n => (JsonNode)new JsonObject
            {
                ["nodeId"] = NodeIdText(n.NodeId.Span),
                ["reason"] = n.Reason.ToString(),
                ["revokedAt"] = n.RevokedAt.ToString("O"),
            })]),
            ["revokedAnchors"] = new JsonArray([.. b.RevokedAnchors.Select(a => (JsonNode)new JsonObject
            {
                ["publicKey"] = Convert.ToHexStringLower(a.PublicKey.Span),
                ["keyId"] = Anchor.KeyIdOf(a.PublicKey.Span),
                ["reason"] = a.Reason.ToString(),
                ["revokedAt"] = a.RevokedAt.ToString("O"),
            })]),
            ["signatures"] = Signatures(crl.Document),
        };
    }

    /// <summary>Describes a transition.</summary>
    public static JsonObject Describe(AnchorTransition transition)
    {
        var json = new JsonObject
        {
            ["kind"] = "transition",
            ["newSet"] = JsonNode.Parse(AnchorSetJson.Write(transition.Body.NewSet)),
            ["previousSetHash"] = Convert.ToHexStringLower(transition.Body.PreviousSetHash.Span),
            ["issuedAt"] = transition.Body.IssuedAt.ToString("O"),
            ["overlapUntil"] = transition.Body.OverlapUntil.ToString("O"),
            ["signatures"] = Signatures(transition.Document),
        };
        return json;
    }

    private static string NodeIdText(ReadOnlySpan<byte> nodeId)
    {
        try
        {
            return Core.Identity.PeerId.FromBytes(nodeId).ToString();
        }
        catch (FormatException)
        {
            return Convert.ToHexStringLower(nodeId);
        }
    }

    private static JsonArray Signatures(SignedDocument document) =>
        new([.. document.Signatures.Select(s => (JsonNode)new JsonObject
        {
            ["publicKey"] = s.PublicKeyHex,
            ["keyId"] = Anchor.KeyIdOf(s.PublicKey.Span),
        })]);
}
