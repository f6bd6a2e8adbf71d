// A .NET startup hook (https://github.com/dotnet/runtime/blob/main/docs/design/features/host-startup-hook.md):
// the runtime calls StartupHook.Initialize() before Main in apps whose runtimeconfig names "Kit" under
// STARTUP_HOOKS — which the kit's build files add to every app that references it. So an app that calls
// torch before touching any kit type still gets the native-library fix. The type must be named
// StartupHook and live in no namespace.
internal static class StartupHook
{
    public static void Initialize()
    {
        Kit.Core.Allocator.Tune();
        Kit.Core.Native.TorchNativeLoader.EnsureLoadable();
    }
}
