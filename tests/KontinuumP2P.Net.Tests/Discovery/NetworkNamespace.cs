using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace KontinuumP2P.Net.Tests.Discovery;

/// <summary>
/// A Linux network namespace made for one test: only <c>lo</c>, up, with multicast enabled and 224.0.0.0/4 routed to
/// it, so mDNS traffic never reaches a real interface. Code runs inside it either as a child process
/// (<c>ip netns exec</c>) or on a dedicated thread that joined it with setns(2): sockets keep the namespace they were
/// created in, so sockets made there stay inside after the thread ends. Deleted on dispose.
/// </summary>
internal sealed class NetworkNamespace : IDisposable
{
    private const int CloneNewNet = 0x40000000;
    private readonly List<Process> _processes = [];
    private readonly string _inode;

    private NetworkNamespace(string name, string inode)
    {
        Name = name;
        _inode = inode;
    }

    public string Name { get; }

    /// <summary>Creates the namespace, or marks the test inconclusive when this machine cannot (not root, no ip).</summary>
    public static NetworkNamespace Create()
    {
        if (!OperatingSystem.IsLinux() || Environment.UserName != "root" || !File.Exists("/usr/sbin/ip") && !File.Exists("/sbin/ip"))
            Assert.Ignore("network namespace tests need Linux, root and iproute2 (CI runs them as root)");
        var name = "kp-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(5));
        Run("ip", "netns", "add", name);
        try
        {
            Run("ip", "-n", name, "link", "set", "lo", "up");
            Run("ip", "-n", name, "link", "set", "lo", "multicast", "on");
            Run("ip", "-n", name, "route", "add", "224.0.0.0/4", "dev", "lo");
            var inode = Run("ip", "netns", "exec", name, "readlink", "/proc/self/ns/net").Trim();
            return new NetworkNamespace(name, inode);
        }
        catch
        {
            Run("ip", "netns", "delete", name);
            throw;
        }
    }

    /// <summary>Undoes the multicast set-up of <c>lo</c>: no MULTICAST flag and no multicast route, as on a fresh machine.</summary>
    public void MakeLoopbackPlain()
    {
        Run("ip", "-n", Name, "route", "del", "224.0.0.0/4", "dev", "lo");
        Run("ip", "-n", Name, "link", "set", "lo", "multicast", "off");
    }

    /// <summary>Runs <paramref name="action"/> on a fresh thread that has joined the namespace (and checked it did).</summary>
    public Task<T> RunInsideAsync<T>(Func<T> action)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                using (var handle = File.OpenHandle($"/run/netns/{Name}"))
                {
                    if (SetNamespace((int)handle.DangerousGetHandle(), CloneNewNet) != 0)
                        throw new InvalidOperationException($"setns failed: errno {Marshal.GetLastPInvokeError()}");
                }
                var current = new FileInfo("/proc/thread-self/ns/net").LinkTarget;
                if (current != _inode) throw new InvalidOperationException($"thread is in {current}, expected {_inode}");
                done.SetResult(action());
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        }) { IsBackground = true, Name = $"netns {Name}" };
        thread.Start();
        return done.Task;
    }

    /// <summary>Starts a child process inside the namespace; it is killed on dispose.</summary>
    public Process StartProcess(string fileName, IEnumerable<string> arguments, string? workingDirectory = null)
    {
        var info = new ProcessStartInfo("ip")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var a in new[] { "netns", "exec", Name, fileName }.Concat(arguments)) info.ArgumentList.Add(a);
        var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {fileName}");
        _processes.Add(process);
        return process;
    }

    public void Dispose()
    {
        foreach (var process in _processes)
        {
            try
            {
                if (!process.HasExited) process.Kill(entireProcessTree: true);
                process.WaitForExit(5000);
            }
            catch (InvalidOperationException)
            {
                // already gone
            }
            process.Dispose();
        }
        Run("ip", "netns", "delete", Name);
    }

    private static string Run(string fileName, params string[] arguments)
    {
        var info = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in arguments) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEnd();
        var error = process.StandardError.ReadToEnd();
        if (!process.WaitForExit(10_000)) process.Kill();
        if (process.ExitCode != 0) throw new InvalidOperationException($"{fileName} {string.Join(' ', arguments)} failed: {error}");
        return output;
    }

    // DllImport rather than LibraryImport: the generated stub would need AllowUnsafeBlocks in the test project.
    [DllImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static extern int SetNamespace(int fd, int nsType);
}
