// The `kit` command: run notebooks headless, export them as file-based apps, reproduce every ablation,
// describe the machine. `./kit` at the repository root builds and runs it.
using Kit.Cli;

return await Commands.Main(args);
