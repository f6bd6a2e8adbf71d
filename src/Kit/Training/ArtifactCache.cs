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

/// <summary>Get-or-train for models, stored as safetensors under $KIT_CACHE/artifacts.</summary>
public static class ArtifactCache
{
    static readonly JsonSerializerOptions Json = new() { IncludeFields = true };

    /// <summary>Folder of the cached artifacts.</summary>
    public static string Directory => Path.Combine(KitPaths.CacheRoot, "artifacts");

    /// <summary>The file an artifact of <paramref name="kind"/> with <paramref name="key"/> at <paramref name="version"/> lives in.</summary>
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
    public static (T Model, bool Loaded) GetOrTrain<T>(string kind, object key, int version, Func<T> create, Action<T> train) where T : nn.Module
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
                    Checkpoint.Load(path, model);
                    model.eval();
                    return (model, true);
                }
                catch (InvalidDataException e)
                {
                    Console.Error.WriteLine($"kit: cached {kind} at {path} does not load ({e.Message}); training anew.");
                }
            }
            train(model);
            Checkpoint.Save(path, model, key);
            model.eval();
            return (model, false);
        }
        finally { random.set_rng_state(outside); }
    }

    // The key's hash (the file name's last 16 hex digits) as a non-negative seed.
    static long KeySeed(string path) =>
        (long)(Convert.ToUInt64(Path.GetFileNameWithoutExtension(path)[^16..], 16) & long.MaxValue);
}
