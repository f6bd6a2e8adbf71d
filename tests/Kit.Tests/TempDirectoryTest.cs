// Tests that write files get a fresh folder of their own, removed afterwards.
namespace Kit.Tests;

public abstract class TempDirectoryTest : IDisposable
{
    protected readonly string Dir = Directory.CreateTempSubdirectory("kit-test-").FullName;

    public virtual void Dispose()
    {
        Directory.Delete(Dir, recursive: true);
        GC.SuppressFinalize(this);
    }
}
