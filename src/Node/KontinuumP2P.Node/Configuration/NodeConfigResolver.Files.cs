using System.Security.Cryptography;
using KontinuumP2P.Certs.Ceremony;
using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Certs.Encoding;
using KontinuumP2P.Certs.Secrets;
using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Node.Configuration;

public static partial class NodeConfigResolver
{
    private static Ed25519Identity LoadKey(IdentitySection identity, string baseDirectory)
    {
        const string key = "identity.key_file";
        if (identity.KeyFile.Length == 0) throw new NodeConfigException(key, $"{key}: not set; give the node key file written by `kontinuum node bootstrap`");
        var path = Path.GetFullPath(identity.KeyFile, baseDirectory);
        var bytes = ReadFile(key, path, KeyFile.MaxFileLength);
        try
        {
            string? passphrase = null;
            if (KeyFile.IsEncrypted(bytes))
            {
                passphrase = ReadPassphrase(identity, baseDirectory) ?? throw new NodeConfigException(key,
                    $"{key}: {path} is encrypted and no passphrase was given: set the variable {identity.PassphraseEnv} (identity.passphrase_env) or identity.passphrase_file");
            }
            return KeyFile.Decode(bytes, KeyFileKind.Node, passphrase);
        }
        catch (TrustFormatException e)
        {
            throw new NodeConfigException(key, $"{key}: {path}: {e.Message}", e);
        }
        catch (CryptographicException e)
        {
            throw new NodeConfigException(key, $"{key}: {path}: cannot decrypt (wrong passphrase?): {e.Message}", e);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(bytes);
        }
    }

    private static string? ReadPassphrase(IdentitySection identity, string baseDirectory)
    {
        try
        {
            return PassphraseSource.Read(identity.PassphraseFile.Length > 0 ? Path.GetFullPath(identity.PassphraseFile, baseDirectory) : null,
                identity.PassphraseEnv.Length > 0 ? identity.PassphraseEnv : null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new NodeConfigException("identity.passphrase_file", $"identity.passphrase_file: {e.Message}", e);
        }
    }

    /// <summary>The certificate, or null when the file is empty (a node that has not been certified yet).</summary>
    private static Certificate? LoadCertificate(IdentitySection identity, string baseDirectory, Ed25519Identity node)
    {
        const string key = "identity.cert_file";
        if (identity.CertFile.Length == 0) return null;
        var path = Path.GetFullPath(identity.CertFile, baseDirectory);
        var bytes = ReadFile(key, path, Certificate.MaxEncodedLength);
        if (bytes.Length == 0) return null;
        Certificate certificate;
        try
        {
            certificate = Certificate.FromDocument(SignedDocument.Decode(bytes, DocumentKind.Certificate, Certificate.MaxEncodedLength));
        }
        catch (TrustFormatException e)
        {
            throw new NodeConfigException(key, $"{key}: {path} is not a certificate: {e.Message}", e);
        }
        if (!certificate.Body.NodePublicKey.Span.SequenceEqual(node.PublicKey))
            throw new NodeConfigException(key, $"{key}: {path} certifies node {certificate.Body.PeerId}, not this node's key ({node.PeerId})");
        return certificate;
    }

    private static byte[] ReadFile(string key, string path, int maxLength)
    {
        if (Directory.Exists(path)) throw new NodeConfigException(key, $"{key}: {path} is a directory, not a file");
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists) throw new NodeConfigException(key, $"{key}: {path} does not exist");
            if (info.Length > maxLength) throw new NodeConfigException(key, $"{key}: {path} is {info.Length} bytes, over the {maxLength}-byte limit");
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new NodeConfigException(key, $"{key}: cannot read {path}: {e.Message}", e);
        }
    }
}
