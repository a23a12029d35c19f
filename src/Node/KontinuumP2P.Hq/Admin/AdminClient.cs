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

    /// <summary>Asks HQ to allocate 3 slots on 3 providers to a new group (<c>POST /groups</c>, operator token).</summary>
    /// <exception cref="AdminException">Refused: bad token, group id taken, not enough providers (the message says why).</exception>
    public async Task<GroupAllocation> AllocateGroupAsync(GroupAllocationBody request, string operatorToken, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentException.ThrowIfNullOrEmpty(operatorToken);
        using var message = new HttpRequestMessage(HttpMethod.Post, "groups") { Content = JsonContent.Create(request, options: Json) };
        message.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", operatorToken);
        using var response = await _http.SendAsync(message, cancellationToken).ConfigureAwait(false);
        await ThrowIfRefusedAsync(response, cancellationToken).ConfigureAwait(false);
        var allocation = await response.Content.ReadFromJsonAsync<GroupAllocation>(Json, cancellationToken).ConfigureAwait(false);
        if (allocation?.Slots is not { Count: 3 }) throw new AdminException((int)response.StatusCode, "malformed-answer", "HQ did not answer with 3 slots");
        return allocation;
    }

    /// <summary>Reads a signing-request answer, or throws the API's error.</summary>
    public static async Task<SigningRequestView> ReadAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(response);
        await ThrowIfRefusedAsync(response, cancellationToken).ConfigureAwait(false);
        return await response.Content.ReadFromJsonAsync<SigningRequestView>(Json, cancellationToken).ConfigureAwait(false)
            ?? throw new AdminException((int)response.StatusCode, "empty", "admin API answered with an empty body");
    }

    private static async Task ThrowIfRefusedAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
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
    }
}
