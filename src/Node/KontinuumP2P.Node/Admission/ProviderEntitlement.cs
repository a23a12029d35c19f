using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht.Records;

namespace KontinuumP2P.Node.Admission;

/// <summary>
/// Who may announce itself as a provider on a Kontinuum network: an admitted peer whose certificate carries the
/// capability the key names. A key of the form <c>/&lt;capability&gt;/…</c> (e.g. <c>/archive/…</c>) needs that
/// capability; any other key (a CID) needs <see cref="DefaultCapability"/>.
/// </summary>
public static class ProviderEntitlement
{
    /// <summary>The capability of every DHT server certificate, needed for keys that name no capability.</summary>
    public const string DefaultCapability = "dht";

    /// <summary>The capability a provider of <paramref name="key"/> needs.</summary>
    public static string RequiredCapability(ReadOnlySpan<byte> key) => RecordValidators.NamespaceOf(key) ?? DefaultCapability;

    /// <summary>Whether <paramref name="peer"/> may announce itself as a provider of <paramref name="key"/> now.</summary>
    public static bool MayProvide(CertificateAdmission admission, PeerId peer, ReadOnlySpan<byte> key)
    {
        ArgumentNullException.ThrowIfNull(admission);
        var verdict = admission.GetVerdict(peer);
        if (verdict is not { Status: AdmissionStatus.Admitted, Certificate: { } certificate }) return false;
        var required = RequiredCapability(key);
        return certificate.Body.Capabilities.Contains(required, StringComparer.Ordinal);
    }
}
