using System.Text.Json;
using KontinuumP2P.Hq.Allocation;
using KontinuumP2P.Hq.Audit;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace KontinuumP2P.Hq.Admin;

/// <summary>Body of <c>POST /groups</c>.</summary>
/// <param name="GroupId">An opaque id the caller chose (1-64 of a-z 0-9 -); HQ never learns the group's secret.</param>
/// <param name="Role"><c>ephemeral</c> (default) or <c>replica</c>.</param>
/// <param name="Region">Preferred region, or null.</param>
public sealed record GroupAllocationBody(string? GroupId, string? Role, string? Region);

/// <summary>Answer of <c>POST /groups</c>.</summary>
/// <param name="GroupId">The group.</param>
/// <param name="Slots">The 3 slots, on 3 providers.</param>
public sealed record GroupAllocation(string GroupId, IReadOnlyList<string> Slots);

/// <summary>
/// <c>POST /groups</c>: allocation of 3 slots on distinct providers to a new group. It takes the operator token, like
/// every call that spends fleet capacity: groups are created by whoever operates the fleet (or an application backend
/// holding its token), not by anonymous devices, which hold no Tier 0 certificate to authenticate with on the node
/// protocol. Rate-limited and audited like the rest of the admin API.
/// </summary>
internal static class AdminGroups
{
    public static void Map(WebApplication app, HqService hq, AuditLog audit, Action<HttpContext> requireOperator)
    {
        app.MapPost("/groups", (Delegate)((HttpContext ctx) => AdminApi.Handle(ctx, audit, "group.allocate", async () =>
        {
            requireOperator(ctx);
            var body = await AdminApi.ReadAsync<GroupAllocationBody>(ctx).ConfigureAwait(false);
            var id = body.GroupId ?? "";
            if (id.Length is < 1 or > 64 || !id.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-'))
                throw new AdminException(400, "malformed-request", "groupId must be 1-64 characters of a-z 0-9 -");
            var role = (body.Role ?? "ephemeral") switch
            {
                "ephemeral" => MailboxRole.Ephemeral,
                "replica" => MailboxRole.Replica,
                var other => throw new AdminException(400, "malformed-request", $"role '{other}' is not ephemeral or replica"),
            };
            if (hq.Registry.Groups().Any(g => g.GroupId == id)) throw new AdminException(409, "group-exists", $"group '{id}' already has slots");
            IReadOnlyList<string> slots;
            try
            {
                slots = hq.AllocateGroup(AdminApi.Actor(ctx), id, role, body.Region);
            }
            catch (AllocationException e)
            {
                throw new AdminException(409, "allocation-failed", e.Message);
            }
            return Results.Json(new GroupAllocation(id, slots));
        })));
    }
}
