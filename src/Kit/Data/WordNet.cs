// Where Debian's wordnet-base puts WordNet, and whether this run may read it (KIT_OPTIONAL_DATA=ignore hides it, so a
// machine with it installed can check what a machine without it does).
using Kit.Core;

namespace Kit.Data;

/// <summary>The installed WordNet database.</summary>
public static class WordNet
{
    /// <summary>Debian's wordnet-base installs the database here.</summary>
    public const string Directory = "/usr/share/wordnet";

    /// <summary>The installed WordNet's folder, or null when it is not installed or KIT_OPTIONAL_DATA=ignore hides it.</summary>
    public static string? Installed => !KitEnvironment.OptionalDataHidden && File.Exists(Path.Combine(Directory,
        "data.noun")) ? Directory : null;

    /// <summary>Why WordNet is absent: hidden by KIT_OPTIONAL_DATA, or not installed.</summary>
    public static string Absence => KitEnvironment.OptionalDataHidden
        ? $"hidden by {KitEnvironment.OptionalData}=ignore"
        : "not installed (sudo apt-get install wordnet-base)";
}

/// <summary>The optional datasets this run reads, in words.</summary>
public static class OptionalData
{
    /// <summary>Two lines: Fashion-MNIST's and WordNet's folder, or why each is absent.</summary>
    public static string Describe() =>
        $"Fashion-MNIST: {FashionMnist.Locate() ?? FashionMnist.Absence}\nWordNet: {WordNet.Installed ?? WordNet.Absence}";
}
