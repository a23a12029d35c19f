using System.CommandLine;
using System.Security.Cryptography;
using KontinuumP2P.Cli.Output;
using KontinuumP2P.Hq.Admin;

namespace KontinuumP2P.Cli.Commands;

/// <summary><c>group create --hq</c>: asks HQ's admin API for 3 slots on 3 providers under a fresh opaque group id.</summary>
internal static class GroupHqAllocation
{
    public static async Task<(string? GroupId, IReadOnlyList<string>? Slots, int? Error)> AllocateAsync(ParseResult parseResult, string endpoint,
        string? tokenFile, string role, string? region, CancellationToken cancellationToken)
    {
        if (!Uri.TryCreate(endpoint.EndsWith('/') ? endpoint : endpoint + "/", UriKind.Absolute, out var address) || address.Scheme is not ("http" or "https"))
            return (null, null, CliOutput.Fail(parseResult, $"--hq: '{endpoint}' is not an http(s) URL", ExitCodes.InvalidInput));
        if (string.IsNullOrEmpty(tokenFile)) return (null, null, CliOutput.Fail(parseResult, "--hq needs --hq-token-file (HQ's operator token)", ExitCodes.InvalidInput));
        string token;
        try
        {
            token = (await File.ReadAllTextAsync(tokenFile, cancellationToken).ConfigureAwait(false)).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return (null, null, CliOutput.Fail(parseResult, $"--hq-token-file: {e.Message}", ExitCodes.InvalidInput));
        }
        if (token.Length == 0) return (null, null, CliOutput.Fail(parseResult, "--hq-token-file: the file is empty", ExitCodes.InvalidInput));
        // An opaque id: HQ learns which slots a group uses, never its secret or label.
        var groupId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        using var http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(30) };
        try
        {
            var allocation = await new AdminClient(http).AllocateGroupAsync(new GroupAllocationBody(groupId, role, region), token, cancellationToken).ConfigureAwait(false);
            return (allocation.GroupId, allocation.Slots, null);
        }
        catch (AdminException e)
        {
            return (null, null, CliOutput.Fail(parseResult, $"--hq: {e.Message}", ExitCodes.Failure));
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return (null, null, CliOutput.Fail(parseResult, $"--hq: HQ at {address} did not answer: {e.Message}", ExitCodes.Failure));
        }
    }
}
