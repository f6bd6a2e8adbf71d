// Device choice: CUDA when available, else CPU; KIT_DEVICE overrides ("cpu", "cuda", "cuda:1").
using TorchSharp;
using static TorchSharp.torch;

namespace Kit.Core;

/// <summary>Picks the device every kit component uses by default.</summary>
public static class Devices
{
    /// <summary>Name of the environment variable that overrides the automatic choice.</summary>
    public const string EnvironmentVariable = "KIT_DEVICE";

    static Device? _default;

    /// <summary>The default device: $KIT_DEVICE if set, else CUDA when available, else CPU.</summary>
    public static Device Default
    {
        get => _default ??= Choose(Environment.GetEnvironmentVariable(EnvironmentVariable));
        set => _default = value;
    }

    /// <summary>Parses a device name; null or empty means automatic.</summary>
    public static Device Choose(string? name)
    {
        if (string.IsNullOrWhiteSpace(name) || name == "auto") return cuda.is_available() ? CUDA : CPU;
        var n = name.Trim().ToLowerInvariant();
        if (n == "cpu") return CPU;
        if (n == "cuda" || n.StartsWith("cuda:", StringComparison.Ordinal))
        {
            if (!cuda.is_available())
                throw new ArgumentException($"{EnvironmentVariable}='{name}' asks for CUDA, but no CUDA device is available " +
                    "(the kit is built with the CPU backend unless -p:TorchBackend=cuda, and the machine needs an NVIDIA driver).",
                        nameof(name));
            return n == "cuda" ? CUDA : new Device(n);
        }
        throw new ArgumentException($"{EnvironmentVariable}='{name}' is not a device: expected 'cpu', 'cuda', 'cuda:N' or 'auto'.",
            nameof(name));
    }

    /// <summary>One line describing the device and thread count, for notebook headers and logs.</summary>
    public static string Describe() =>
        $"device {Default.type}{(Default.type == DeviceType.CUDA ? $":{Default.index}" : "")}, torch threads {get_num_threads()}, CUDA " +
            $"available: {cuda.is_available()}";
}
