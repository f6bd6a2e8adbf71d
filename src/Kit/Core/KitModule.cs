// Runs when the kit's assembly is first used — before any kit code touches TorchSharp — so that the
// native-library fix and the allocator tuning are in place without the user calling anything.
using System.Runtime.CompilerServices;
using Kit.Core.Native;

namespace Kit.Core;

static class KitModule
{
#pragma warning disable CA2255 // a library module initializer is exactly what is wanted here
    [ModuleInitializer]
    internal static void Initialize()
    {
        Allocator.Tune();
        TorchNativeLoader.EnsureLoadable();
        try { Kit.Notebook.KernelFormatters.TryRegister(); }
        catch (Exception) { /* a kernel whose Formatter API differs keeps its own chart display */ }
    }
#pragma warning restore CA2255
}
