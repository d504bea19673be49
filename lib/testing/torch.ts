/**
 * Whether `python` (default Debian's `/usr/bin/python3`, where python3-torch installs) imports
 * torch and numpy: the PyTorch tests are skipped where it does not.
 */
export function hasTorch(python = "/usr/bin/python3"): boolean {
  try {
    return new Deno.Command(python, {
      args: ["-c", "import torch, numpy"],
      stdout: "null",
      stderr: "null",
    }).outputSync().code === 0;
  } catch {
    return false;
  }
}
