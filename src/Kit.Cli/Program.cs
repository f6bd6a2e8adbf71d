using static TorchSharp.torch;
Console.WriteLine(Kit.Core.Native.TorchNativeLoader.Report);
var a = randn(256, 256);
Console.WriteLine((a.matmul(a)).sum().item<float>());
