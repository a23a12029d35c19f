using Google.Protobuf;
using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Core.Codecs;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Node.Protos;

namespace KontinuumP2P.Node.Admission;

/// <summary>
/// The <c>/kontinuum/cert/1.0.0</c> wire exchange: right after connecting, each side opens one stream, writes one
/// length-prefixed <c>CertificateOffer</c> (empty for a client without a certificate) and closes its side. One push
/// per direction: no round trip, and neither side waits for the other to speak first.
/// </summary>
public static class CertificateExchange
{
    /// <summary>Largest offer read (a certificate is at most 8 KiB).</summary>
    public const int MaxOfferLength = Certificate.MaxEncodedLength + 64;

    /// <summary>Sends our offer on a new stream.</summary>
    public static async ValueTask SendAsync(IConnection connection, string protocolId, Certificate? own, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var stream = await connection.NewStreamAsync([protocolId], cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            var offer = new CertificateOffer();
            if (own is not null) offer.Certificate = ByteString.CopyFrom(own.Encode());
            await LengthPrefixed.WriteAsync(stream.Output, offer.ToByteArray(), cancellationToken).ConfigureAwait(false);
            await stream.Output.CompleteAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Reads the remote's offer from an inbound stream: null for "no certificate".</summary>
    /// <exception cref="InvalidDataException">Oversized, truncated or malformed offer.</exception>
    /// <exception cref="EndOfStreamException">The stream closed before any offer (not a verdict: nothing was said).</exception>
    public static async ValueTask<Certificate?> ReceiveAsync(IP2PStream stream, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var body = await LengthPrefixed.ReadAsync(stream.Input, MaxOfferLength, cancellationToken).ConfigureAwait(false)
            ?? throw new EndOfStreamException("the certificate stream closed before an offer");
        CertificateOffer offer;
        try
        {
            offer = CertificateOffer.Parser.ParseFrom(body);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"malformed certificate offer: {e.Message}", e);
        }
        if (offer.Certificate.IsEmpty) return null;
        try
        {
            return Certificate.Decode(offer.Certificate.Span);
        }
        catch (FormatException e)
        {
            throw new InvalidDataException($"malformed certificate: {e.Message}", e);
        }
    }
}
