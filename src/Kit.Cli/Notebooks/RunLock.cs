// Two runs writing the same files (two `kit notebook run` of one notebook into one --out, two `kit reproduce` into one
// run folder) would overwrite each other's copies and reports. Each run holds an exclusive lock on a file beside what it
// writes for as long as it runs; a second run finds it held and stops before any cell, naming the file. The lock is the
// operating system's (an advisory flock held by the open file), so a run that is killed releases it.
namespace Kit.Cli.Notebooks;

/// <summary>An exclusive lock on "&lt;file&gt;.lock", held while a run writes <c>file</c>.</summary>
public static class RunLock
{
    /// <summary>Takes the lock of <paramref name="file"/>; an InvalidOperationException names the file and <paramref name="option"/> when
    /// another run holds it.</summary>
    public static IDisposable Acquire(string file, string option)
    {
        var path = file + ".lock";
        try
        {
            return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.DeleteOnClose);
        }
        catch (IOException)
        {
            throw new InvalidOperationException($"another kit run is writing {file} (it holds {path}); wait for it to finish, or give " +
                $"this run another {option}.");
        }
    }
}
