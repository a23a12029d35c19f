namespace KontinuumP2P.Hq.Admin;

/// <summary>A refused admin request; nothing was changed. <see cref="StatusCode"/> is the HTTP status to answer.</summary>
public sealed class AdminException : Exception
{
    /// <summary>Creates the exception.</summary>
    public AdminException(int statusCode, string error, string message) : base(message)
    {
        StatusCode = statusCode;
        Error = error;
    }

    /// <summary>HTTP status.</summary>
    public int StatusCode { get; }

    /// <summary>Short machine-readable code, e.g. <c>token-used</c>.</summary>
    public string Error { get; }
}

/// <summary>State of a signing request.</summary>
public enum SigningStatus
{
    /// <summary>Waiting for partial signatures.</summary>
    Pending = 0,

    /// <summary>Assembled: the result is available.</summary>
    Complete = 1,
}

/// <summary>A certificate or CRL being signed.</summary>
/// <param name="Id">Request id (random; also the poll handle).</param>
/// <param name="Kind"><c>certificate</c> or <c>crl</c>.</param>
/// <param name="Subject">Node id or CRL number.</param>
/// <param name="Status">Pending or complete.</param>
/// <param name="Draft">Base64 of the draft document operators sign with <c>tier0 sign</c>.</param>
/// <param name="Signatures">Valid partial signatures collected.</param>
/// <param name="Required">Signatures required.</param>
/// <param name="Result">Base64 of the assembled certificate or CRL when complete.</param>
public sealed record SigningRequestView(string Id, string Kind, string Subject, SigningStatus Status, string Draft, int Signatures, int Required, string? Result);
