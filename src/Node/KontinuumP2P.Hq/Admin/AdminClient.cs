using System.Net.Http.Json;
using System.Text.Json;
using KontinuumP2P.Certs.Certificates;

namespace KontinuumP2P.Hq.Admin;

/// <summary>The node side of the admin API: sends a signed certificate request and waits for the certificate.</summary>
public sealed class AdminClient
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() },
    };

    private readonly HttpClient _http;

    /// <summary>Creates a client over <paramref name="http"/> (its BaseAddress is the admin endpoint).</summary>
    public AdminClient(HttpClient http) => _http = http ?? throw new ArgumentNullException(nameof(http));

    /// <summary>
    /// Sends the request, then polls every <paramref name="pollInterval"/> until the certificate is assembled or
    /// <paramref name="cancellationToken"/> fires.
    /// </summary>
    /// <exception cref="AdminException">The API refused the request (the message says why).</exception>
    public async Task<Certificate> RequestCertificateAsync(SignedCertificateRequest request, TimeSpan pollInterval, TimeProvider time,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        using var response = await _http.PostAsJsonAsync("certs/issue", request, Json, cancellationToken).ConfigureAwait(false);
        var view = await ReadAsync(response, cancellationToken).ConfigureAwait(false);
        while (view.Status != SigningStatus.Complete)
        {
            await Task.Delay(pollInterval, time, cancellationToken).ConfigureAwait(false);
            using var poll = await _http.GetAsync($"certs/requests/{Uri.EscapeDataString(view.Id)}", cancellationToken).ConfigureAwait(false);
            view = await ReadAsync(poll, cancellationToken).ConfigureAwait(false);
        }
        return Certificate.Decode(Convert.FromBase64String(view.Result!));
    }

    /// <summary>Reads a signing-request answer, or throws the API's error.</summary>
    public static async Task<SigningRequestView> ReadAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(response);
        if (!response.IsSuccessStatusCode)
        {
            string error = "http-" + (int)response.StatusCode, message = response.ReasonPhrase ?? "";
            try
            {
                var body = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken).ConfigureAwait(false);
                error = body.GetProperty("error").GetString() ?? error;
                message = body.GetProperty("message").GetString() ?? message;
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
            {
            }
            throw new AdminException((int)response.StatusCode, error, $"admin API refused ({(int)response.StatusCode} {error}): {message}");
        }
        return await response.Content.ReadFromJsonAsync<SigningRequestView>(Json, cancellationToken).ConfigureAwait(false)
            ?? throw new AdminException((int)response.StatusCode, "empty", "admin API answered with an empty body");
    }
}
