// Runs when the kit's assembly is first used — before any kit code touches TorchSharp — so that the native-library fix
// and the allocator tuning are in place without the user calling anything, and so that the notebook layer's displays
// (kernel formatters, the training progress bar) are plugged into the layers that report to them. It lives at the
// assembly's root because it wires layers together; no layer imports it.
using System.Runtime.CompilerServices;
using Kit.Core.Native;

namespace Kit;

static class KitModule
{
#pragma warning disable CA2255 // a library module initializer is exactly what is wanted here
    [ModuleInitializer]
    internal static void Initialize()
    {
        Core.Allocator.Tune();
        TorchNativeLoader.EnsureLoadable();
        Training.TrainingProgressDisplay.Create = (steps, label) => new Notebook.TrainingProgress(steps, label);
        try { Notebook.KernelFormatters.TryRegister(); }
        catch (Exception) { /* a kernel whose Formatter API differs keeps its own chart display */ }
    }
#pragma warning restore CA2255
}
