using KontinuumP2P.Certs.Secrets;

namespace KontinuumP2P.Certs.Tests.Secrets;

public sealed class DurableFilesTests
{
    [Test]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void A_private_directory_is_0700_even_when_it_existed_wider_and_a_directory_can_be_synced()
    {
        var root = Directory.CreateTempSubdirectory("kp-durable-").FullName;
        try
        {
            var keys = Path.Combine(root, "keys");
            Directory.CreateDirectory(keys);
            File.SetUnixFileMode(keys, (UnixFileMode)0b111_101_101);
            DurableFiles.CreatePrivateDirectory(keys);
            DurableFiles.FlushDirectory(keys);
            using (Assert.EnterMultipleScope())
            {
                Assert.That(File.GetUnixFileMode(keys), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute));
                Assert.That(() => DurableFiles.FlushDirectory(Path.Combine(root, "missing")), Throws.InstanceOf<IOException>());
            }
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
