using System.Text.Json;
using KontinuumP2P.Testing;

namespace KontinuumP2P.Net.Tests.Crypto;

/// <summary>One Wycheproof test case with its group.</summary>
internal sealed record WycheproofCase(JsonElement Group, JsonElement Test)
{
    public int Id => Test.GetProperty("tcId").GetInt32();

    public string Result => Test.GetProperty("result").GetString()!;

    public bool HasFlag(string flag) => Test.GetProperty("flags").EnumerateArray().Any(f => f.GetString() == flag);

    public byte[] Bytes(string property) => Convert.FromHexString(Test.GetProperty(property).GetString()!);

    public override string ToString() => $"tcId {Id} ({Result}, {Test.GetProperty("comment").GetString()})";
}

/// <summary>Reads the Wycheproof files from the shared vectors folder.</summary>
internal static class WycheproofVectors
{
    /// <summary>Every case of a file; checks the count against the file's own <c>numberOfTests</c>.</summary>
    public static IReadOnlyList<WycheproofCase> Load(string fileName, out JsonDocument document)
    {
        document = SharedVectors.LoadJson(fileName);
        var root = document.RootElement;
        var cases = root.GetProperty("testGroups").EnumerateArray()
            .SelectMany(group => group.GetProperty("tests").EnumerateArray().Select(test => new WycheproofCase(group, test)))
            .ToList();
        Assert.That(cases, Has.Count.EqualTo(root.GetProperty("numberOfTests").GetInt32()), $"{fileName} case count");
        return cases;
    }
}
