// Checkpoints: a module's weights in safetensors (PyTorch-style parameter names, so they load in
// PyTorch with safetensors.torch.load_file) with the config and step stored beside them as metadata.
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace Kit.Core;

/// <summary>What a checkpoint holds besides the weights.</summary>
public sealed record CheckpointInfo(long Step, string? ConfigType, string? ConfigJson, IReadOnlyDictionary<string, string> Metadata)
{
    /// <summary>The stored config, deserialised.</summary>
    public T? Config<T>() => ConfigJson is null ? default : JsonSerializer.Deserialize<T>(ConfigJson, Checkpoint.JsonOptions);
}

/// <summary>Saves and loads module weights with their config and training step.</summary>
public static class Checkpoint
{
    internal static readonly JsonSerializerOptions JsonOptions = new() { IncludeFields = true, WriteIndented = false };

    /// <summary>A config as a checkpoint stores it (JSON of its runtime type), so that two can be compared.</summary>
    public static string SerializeConfig(object config) => JsonSerializer.Serialize(config, config.GetType(), JsonOptions);

    /// <summary>Writes the module's state dict, <paramref name="config"/> (as JSON) and <paramref name="step"/> atomically.</summary>
    public static void Save(string path, nn.Module module, object? config = null, long step = 0,
        IReadOnlyDictionary<string, string>? extra = null)
    {
        var meta = new Dictionary<string, string>(extra ?? new Dictionary<string, string>())
        {
            ["kit.step"] = step.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["kit.format"] = "1",
        };
        if (config is not null)
        {
            meta["kit.config_type"] = config.GetType().FullName!;
            meta["kit.config"] = SerializeConfig(config);
        }
        Safetensors.Write(path, module.state_dict(), meta);
    }

    /// <summary>Loads weights into <paramref name="module"/> (names and shapes must match) and returns the rest.</summary>
    public static CheckpointInfo Load(string path, nn.Module module)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"checkpoint '{path}' does not exist.", path);
        var (tensors, meta) = Safetensors.Read(path);
        try
        {
            var state = module.state_dict();
            var missing = state.Keys.Except(tensors.Keys).ToList();
            var unexpected = tensors.Keys.Except(state.Keys).ToList();
            if (missing.Count > 0 || unexpected.Count > 0)
                throw new InvalidDataException($"checkpoint '{path}' does not fit {module.GetType().Name}: " +
                    $"missing [{string.Join(", ", missing.Take(8))}], unexpected [{string.Join(", ", unexpected.Take(8))}].");
            // Every shape is checked before anything is copied: a checkpoint that does not fit leaves the module as it was.
            var misfits = state.Where(kv => !tensors[kv.Key].shape.SequenceEqual(kv.Value.shape))
                .Select(kv => $"'{kv.Key}' has shape [{string.Join(", ", tensors[kv.Key].shape)}], the module expects " +
                    $"[{string.Join(", ", kv.Value.shape)}]").ToList();
            if (misfits.Count > 0)
                throw new InvalidDataException($"checkpoint '{path}' does not fit {module.GetType().Name}: " +
                    $"{string.Join("; ", misfits.Take(8))}{(misfits.Count > 8 ? $" (and {misfits.Count - 8} more)" : "")}.");
            using (no_grad())
                foreach (var (name, target) in state) target.copy_(tensors[name]);
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
        return Info(meta);
    }

    /// <summary>Reads only the step, config and metadata of a checkpoint.</summary>
    public static CheckpointInfo ReadInfo(string path) => Info(Safetensors.ReadHeader(path).Metadata);

    static CheckpointInfo Info(IReadOnlyDictionary<string, string> meta) => new(
        meta.TryGetValue("kit.step", out var s) ? long.Parse(s, System.Globalization.CultureInfo.InvariantCulture) : 0,
        meta.GetValueOrDefault("kit.config_type"), meta.GetValueOrDefault("kit.config"), meta);
}
