using System.IO.Pipelines;
using KontinuumP2P.Core.Resources;

namespace KontinuumP2P.Core.Network;

/// <summary>
/// A negotiated protocol stream over a secured, multiplexed connection. Completing <see cref="IDuplexPipe.Output"/>
/// half-closes our side (yamux FIN); the remote's FIN completes <see cref="IDuplexPipe.Input"/>; <see cref="Reset"/>
/// aborts both directions (yamux RST), after which reads and writes throw <see cref="StreamResetException"/>.
/// </summary>
public interface IP2PStream : IDuplexPipe, IAsyncDisposable
{
    /// <summary>The protocol id agreed by multistream-select.</summary>
    string Protocol { get; }

    /// <summary>The connection carrying this stream.</summary>
    IConnection Connection { get; }

    /// <summary>Aborts the stream in both directions.</summary>
    void Reset();

    /// <summary>
    /// The stream's resource scope, where a handler reserves its own buffers (charged to the connection, peer,
    /// protocol and system too); null when the host keeps no scopes for it (outbound streams, other muxers).
    /// </summary>
    ResourceScope? Resources => null;
}

/// <summary>Thrown by reads and writes on a stream that either side reset.</summary>
public sealed class StreamResetException : IOException
{
    /// <summary>Creates the exception.</summary>
    public StreamResetException() : base("the stream was reset") { }

    /// <summary>Creates the exception with a message.</summary>
    public StreamResetException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public StreamResetException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>Thrown when no protocol of a proposal list was accepted by the remote.</summary>
public sealed class ProtocolNotSupportedException : IOException
{
    /// <summary>Creates the exception.</summary>
    public ProtocolNotSupportedException() : base("protocol not supported") { }

    /// <summary>Creates the exception with a message.</summary>
    public ProtocolNotSupportedException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public ProtocolNotSupportedException(string message, Exception inner) : base(message, inner) { }
}
