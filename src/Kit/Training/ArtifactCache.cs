// Trained artifacts (tokenizers, probes, language models, backbones) are trained once and then loaded: a notebook that
// needs a trained model asks the cache with the model's kind, a key (everything that decides what is trained: configs,
// data, the upstream artifacts' keys) and a version. The version lives at the cache call, next to the code it
// describes: bump it when the same key would now train or store something different (a new loss, a reshaped network),
// and every artifact cached under the old version is trained anew instead of being loaded into the wrong shape.
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Kit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace Kit.Training;

/// <summary>An artifact from the cache and its training record.</summary>
/// <param name="Model">The trained or loaded model.</param>
/// <param name="FromCache">True when the weights were loaded.</param>
/// <param name="Seconds">This run's training time (NaN when loaded).</param>
/// <param name="Records">What the training stored beside the weights (a drift curve, say), the same whether trained or loaded.</param>
public sealed record CachedArtifact<T>(T Model, bool FromCache, double Seconds,
    IReadOnlyDictionary<string, string> Records) where T : nn.Module;

/// <summary>Get-or-train for models, stored as safetensors under $KIT_CACHE/artifacts.</summary>
public static class ArtifactCache
{
    static readonly JsonSerializerOptions Json = new() { IncludeFields = true };

    /// <summary>Folder of the cached artifacts.</summary>
    public static string Directory => Path.Combine(KitPaths.CacheRoot, "artifacts");

    /// <summary>The file an artifact of <paramref name="kind"/> with <paramref name="key"/> at <paramref name="version"/> lives
    /// in.</summary>
    public static string PathFor(string kind, object key, int version)
    {
        if (version < 1) throw new ArgumentOutOfRangeException(nameof(version), version, "expected a version of 1 or more");
        var text = $"{kind}\nv{version}\n{JsonSerializer.Serialize(key, key.GetType(), Json)}";
        var hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16].ToLowerInvariant();
        var safeKind = string.Concat(kind.Select(c => char.IsLetterOrDigit(c) || c == '-' ? c : '-'));
        return Path.Combine(Directory, $"{safeKind}-{hash}.safetensors");
    }

    /// <summary>
    /// Builds the model with <paramref name="create"/>; loads its weights when this (kind, key, version) was trained
    /// before, otherwise runs <paramref name="train"/> and saves the result. Returns the model and whether it was loaded.
    /// </summary>
    /// <remarks>
    /// The model is built and trained from torch's CPU generator seeded by the artifact's key, and the generator is put back
    /// as it was afterwards. So an artifact is the same whatever ran before it, and what runs after it draws the same
    /// numbers whether it was trained or loaded: a run with a cold cache gives the numbers of a run with a warm one.
    /// </remarks>
    public static (T Model, bool Loaded) GetOrTrain<T>(string kind, object key, int version, Func<T> create,
        Action<T> train) where T : nn.Module
    {
        var artifact = Get(kind, key, version, create, m => { train(m); return null; });
        return (artifact.Model, artifact.FromCache);
    }

    /// <summary>
    /// <see cref="GetOrTrain{T}"/> with the training record: <paramref name="train"/> may return named records (a drift
    /// curve, say, as text), which are stored with the weights and given back when they are loaded; the seconds are timed here.
    /// </summary>
    public static CachedArtifact<T> Get<T>(string kind, object key, int version, Func<T> create,
        Func<T, IReadOnlyDictionary<string, string>?> train)
        where T : nn.Module
    {
        var path = PathFor(kind, key, version);
        using var outside = random.get_rng_state();
        random.manual_seed(KeySeed(path));
        try
        {
            var model = create();
            if (File.Exists(path))
            {
                try
                {
                    var info = Checkpoint.Load(path, model);
                    model.eval();
                    return new CachedArtifact<T>(model, FromCache: true, Seconds: double.NaN, Records(info.Metadata));
                }
                catch (Exception e) when (e is InvalidDataException or IOException)
                {
                    Console.Error.WriteLine($"kit: the cached {kind} {path} does not load ({e.Message}); training it anew.");
                }
            }
            // The cache must take the result before minutes of training are spent on it.
            EnsureWritable();
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var records = train(model) ?? new Dictionary<string, string>();
            double seconds = clock.Elapsed.TotalSeconds;
            Save(path, model, key, kind, records.ToDictionary(r => RecordPrefix + r.Key, r => r.Value));
            model.eval();
            return new CachedArtifact<T>(model, FromCache: false, seconds, records);
        }
        finally { random.set_rng_state(outside); }
    }

    const string RecordPrefix = "kit.record.";

    static IReadOnlyDictionary<string, string> Records(IReadOnlyDictionary<string, string> metadata) =>
        metadata.Where(m => m.Key.StartsWith(RecordPrefix, StringComparison.Ordinal)).ToDictionary(m => m.Key[RecordPrefix.Length..],
            m => m.Value);

    /// <summary>How the cache folder is named in messages: KIT_CACHE's value, or the default and how to move it.</summary>
    public static string Describe() => Environment.GetEnvironmentVariable("KIT_CACHE") is { Length: > 0 } set
        && !string.IsNullOrWhiteSpace(set)
        ? $"KIT_CACHE='{set}'" : $"the cache folder {KitPaths.CacheRoot} (KIT_CACHE moves it)";

    static readonly HashSet<string> Checked = new(StringComparer.Ordinal);

    /// <summary>Checks, once per process and folder, that the artifacts folder can be created and written, with room to spare; an
    /// ArgumentException names KIT_CACHE otherwise.</summary>
    public static void EnsureWritable()
    {
        var folder = Directory;
        lock (Checked)
        {
            if (Checked.Contains(folder)) return;
            KitEnvironment.EnsureWritableFolder(folder, Describe());
            Checked.Add(folder);
        }
    }

    // A trained model is never thrown away because its file could not be written (a full disk, a folder gone read-only
    // mid-run): it goes to the system's temporary folder instead, and the message says where and how to reuse it. If
    // that fails too, the model stays in memory for this run.
    static void Save(string path, nn.Module model, object key, string kind, IReadOnlyDictionary<string, string>? records = null)
    {
        try { Checkpoint.Save(path, model, key, extra: records); return; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            var fallback = Path.Combine(Path.GetTempPath(), "kit-unsaved-artifacts", Path.GetFileName(path));
            try
            {
                Checkpoint.Save(fallback, model, key, extra: records);
                Console.Error.WriteLine($"kit: the trained {kind} could not be written to {path} ({e.Message}; {Describe()}). " +
                    $"It is saved at {fallback} instead: copy it to {path} once there is room, and later runs will load it.");
            }
            catch (Exception inner) when (inner is IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"kit: the trained {kind} could not be written to {path} ({e.Message}; {Describe()}) nor to " +
                    $"{fallback} ({inner.Message}). " +
                    "This run goes on with it in memory; a later run will train it again.");
            }
        }
    }

    // The key's hash (the file name's last 16 hex digits) as a non-negative seed.
    static long KeySeed(string path) =>
        (long)(Convert.ToUInt64(Path.GetFileNameWithoutExtension(path)[^16..], 16) & long.MaxValue);
}
