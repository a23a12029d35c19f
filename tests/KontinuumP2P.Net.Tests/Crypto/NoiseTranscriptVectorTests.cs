using System.Text;
using System.Text.Json;
using KontinuumP2P.Net.Security.Noise;
using KontinuumP2P.Testing;

namespace KontinuumP2P.Net.Tests.Crypto;

/// <summary>
/// The official cacophony <c>Noise_XX_25519_ChaChaPoly_SHA256</c> transcript, run through the HandshakeState,
/// SymmetricState and CipherState classes the libp2p stack uses (keys and prologue injected).
/// </summary>
public sealed class NoiseTranscriptVectorTests
{
    [Test]
    public void CacophonyXxTranscriptIsReproducedByteForByte()
    {
        using var document = SharedVectors.LoadJson("noise_xx_25519_chachapoly_sha256.json");
        var vectors = document.RootElement.GetProperty("vectors");
        Assert.That(vectors.GetArrayLength(), Is.GreaterThan(0));
        foreach (var vector in vectors.EnumerateArray()) RunVector(vector);
    }

    [Test]
    public void Libp2pInitialStateMatchesTheWireNotes()
    {
        // libp2p uses an empty prologue; h after MixHash(∅) is quoted in the wire notes (§5) as computed by js.
        using var state = new SymmetricState(Encoding.ASCII.GetBytes(XXHandshakeState.ProtocolName));
        Assert.That(Convert.ToHexStringLower(state.HandshakeHash), Is.EqualTo(Convert.ToHexStringLower(Encoding.ASCII.GetBytes(XXHandshakeState.ProtocolName))));
        state.MixHash(ReadOnlySpan<byte>.Empty);
        Assert.That(Convert.ToHexStringLower(state.HandshakeHash),
            Is.EqualTo("f3d15e6108ed9556171207baa58f97d29a13c6be40595166066e2e0958dc002d"));
    }

    [Test]
    public void CipherStateNonceIsFourZeroBytesThenLittleEndianCounter()
    {
        var key = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();
        using var cipher = new CipherState();
        cipher.InitializeKey(key);
        cipher.SetNonce(0x0102030405060708);
        var viaState = new byte[3 + CipherState.TagSize];
        cipher.EncryptWithAd([9], [1, 2, 3], viaState);
        Assert.That(cipher.Nonce, Is.EqualTo(0x0102030405060709UL));

        using var primitive = new ChaChaPolyKey(key);
        var viaPrimitive = new byte[3 + CipherState.TagSize];
        primitive.Seal([0, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1], [9], [1, 2, 3], viaPrimitive);
        Assert.That(viaState, Is.EqualTo(viaPrimitive));
    }

    private static void RunVector(JsonElement vector)
    {
        Assert.That(vector.GetProperty("protocol_name").GetString(), Is.EqualTo(XXHandshakeState.ProtocolName));
        using var initiatorStatic = X25519KeyPair.FromPrivateKey(Hex(vector, "init_static"));
        using var responderStatic = X25519KeyPair.FromPrivateKey(Hex(vector, "resp_static"));
        using var initiator = new XXHandshakeState(true, initiatorStatic, Hex(vector, "init_prologue"),
            X25519KeyPair.FromPrivateKey(Hex(vector, "init_ephemeral")));
        using var responder = new XXHandshakeState(false, responderStatic, Hex(vector, "resp_prologue"),
            X25519KeyPair.FromPrivateKey(Hex(vector, "resp_ephemeral")));

        var messages = vector.GetProperty("messages").EnumerateArray().ToArray();
        Assert.That(messages, Has.Length.GreaterThan(3), "the transcript must go past the handshake");
        for (var i = 0; i < 3; i++)
        {
            var (writer, reader) = i % 2 == 0 ? (initiator, responder) : (responder, initiator);
            var payload = Hex(messages[i], "payload");
            var message = writer.WriteMessage(payload);
            Assert.That(Convert.ToHexStringLower(message), Is.EqualTo(messages[i].GetProperty("ciphertext").GetString()), $"message {i}");
            Assert.That(reader.ReadMessage(message), Is.EqualTo(payload), $"payload {i}");
        }
        var expectedHash = vector.GetProperty("handshake_hash").GetString();
        Assert.That(Convert.ToHexStringLower(initiator.HandshakeHash), Is.EqualTo(expectedHash));
        Assert.That(Convert.ToHexStringLower(responder.HandshakeHash), Is.EqualTo(expectedHash));
        Assert.That(initiator.RemoteStaticPublicKey.ToArray(), Is.EqualTo(responderStatic.PublicKey));
        Assert.That(responder.RemoteStaticPublicKey.ToArray(), Is.EqualTo(initiatorStatic.PublicKey));

        var (initiatorSend, initiatorReceive) = initiator.Split();
        var (responderSend, responderReceive) = responder.Split();
        using (initiatorSend)
        using (initiatorReceive)
        using (responderSend)
        using (responderReceive)
        {
            // After the handshake the transcript keeps alternating: odd indexes are the responder's.
            for (var i = 3; i < messages.Length; i++)
            {
                var (send, receive) = i % 2 == 0 ? (initiatorSend, responderReceive) : (responderSend, initiatorReceive);
                var payload = Hex(messages[i], "payload");
                var ciphertext = new byte[payload.Length + CipherState.TagSize];
                send.EncryptWithAd(ReadOnlySpan<byte>.Empty, payload, ciphertext);
                Assert.That(Convert.ToHexStringLower(ciphertext), Is.EqualTo(messages[i].GetProperty("ciphertext").GetString()), $"message {i}");
                var plaintext = new byte[payload.Length];
                Assert.That(receive.TryDecryptWithAd(ReadOnlySpan<byte>.Empty, ciphertext, plaintext, out var written), Is.True);
                Assert.That(plaintext.AsSpan(0, written).ToArray(), Is.EqualTo(payload));
            }
        }
    }

    private static byte[] Hex(JsonElement element, string property) => Convert.FromHexString(element.GetProperty(property).GetString()!);
}
