using System.Globalization;
using System.Runtime.Intrinsics.X86;

namespace GpuNet.Kernels;

/// <summary>
/// The data-cache sizes of the processor the host engine runs on, per core: what the GEMM's cache blocking is derived
/// from. Read from Linux's sysfs where it describes the caches, else from CPUID (Intel's leaf 4, AMD's 0x8000001D or its
/// older 0x80000005/0x80000006 leaves: virtual machines often pass those through while sysfs is empty), else common
/// sizes (32 KiB and 512 KiB) that no x86 processor of the last decade is smaller than.
/// </summary>
internal static class HostCache
{
    /// <summary>The fallback L1 data cache, in bytes.</summary>
    public const int DefaultL1 = 32 * 1024;
    /// <summary>The fallback L2 cache, in bytes.</summary>
    public const int DefaultL2 = 512 * 1024;

    private static readonly Lazy<(int L1, int L2, string Source)> s_sizes = new(Detect);

    /// <summary>The L1 data cache of one core, in bytes.</summary>
    public static int L1 => s_sizes.Value.L1;

    /// <summary>The L2 cache of one core, in bytes.</summary>
    public static int L2 => s_sizes.Value.L2;

    /// <summary>Where the sizes came from: <c>sysfs</c>, <c>cpuid</c> or <c>default</c>.</summary>
    public static string Source => s_sizes.Value.Source;

    private static (int, int, string) Detect()
    {
        var sys = FromSysfs();
        if (sys is { } s) return (s.L1, s.L2, "sysfs");
        var id = FromCpuid();
        if (id is { } c) return (c.L1, c.L2, "cpuid");
        return (DefaultL1, DefaultL2, "default");
    }

    // Sizes outside these bounds are misreadings (a hypervisor's zeros or garbage), not caches.
    private static bool Plausible(int l1, int l2) => l1 is >= 8 * 1024 and <= 1024 * 1024 && l2 is >= 64 * 1024 and <= 64 * 1024 * 1024;

    private static (int L1, int L2)? FromSysfs()
    {
        const string root = "/sys/devices/system/cpu/cpu0/cache";
        if (!OperatingSystem.IsLinux() || !Directory.Exists(root)) return null;
        int l1 = 0, l2 = 0;
        try
        {
            foreach (string dir in Directory.GetDirectories(root, "index*"))
            {
                string Read(string name) => File.ReadAllText(Path.Combine(dir, name)).Trim();
                string type = Read("type");
                if (type is not ("Data" or "Unified")) continue;
                int level = int.Parse(Read("level"), CultureInfo.InvariantCulture);
                int bytes = ParseSize(Read("size"));
                if (level == 1) l1 = bytes;
                else if (level == 2) l2 = bytes;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or OverflowException)
        {
            return null;
        }
        return Plausible(l1, l2) ? (l1, l2) : null;
    }

    // sysfs writes sizes as "48K", "1024K" or "2M".
    private static int ParseSize(string text)
    {
        int scale = text.EndsWith('K') ? 1024 : text.EndsWith('M') ? 1024 * 1024 : 1;
        string digits = scale == 1 ? text : text[..^1];
        return checked(int.Parse(digits, NumberStyles.None, CultureInfo.InvariantCulture) * scale);
    }

    private static (int L1, int L2)? FromCpuid()
    {
        if (!X86Base.IsSupported) return null;
        var (maxBasic, vendorB, vendorC, vendorD) = X86Base.CpuId(0, 0);
        bool amd = vendorB == 0x68747541 && vendorD == 0x69746E65 && vendorC == 0x444D4163; // "AuthenticAMD"
        int maxExtended = X86Base.CpuId(unchecked((int)0x80000000), 0).Eax;

        // The deterministic cache-parameter leaves: Intel's 4, AMD's 0x8000001D (same layout).
        int leaf = amd ? unchecked((int)0x8000001D) : 4;
        bool hasLeaf = amd ? (uint)maxExtended >= 0x8000001D : maxBasic >= 4;
        if (hasLeaf)
        {
            int l1 = 0, l2 = 0;
            for (int sub = 0; sub < 16; sub++)
            {
                var (a, b, c, _) = X86Base.CpuId(leaf, sub);
                int type = a & 31; // 1 data, 2 instruction, 3 unified, 0 no more caches
                if (type == 0) break;
                if (type == 2) continue;
                int level = (a >> 5) & 7;
                long bytes = (long)(((b >> 22) & 1023) + 1) * (((b >> 12) & 1023) + 1) * ((b & 4095) + 1) * ((long)(uint)c + 1);
                if (bytes > int.MaxValue) continue;
                if (level == 1) l1 = (int)bytes;
                else if (level == 2) l2 = (int)bytes;
            }
            if (Plausible(l1, l2)) return (l1, l2);
        }
        // AMD's older leaves: L1d size in KiB in ECX[31:24] of 0x80000005, L2 size in KiB in ECX[31:16] of 0x80000006.
        if (amd && (uint)maxExtended >= 0x80000006)
        {
            int l1 = ((X86Base.CpuId(unchecked((int)0x80000005), 0).Ecx >> 24) & 255) * 1024;
            int l2 = ((X86Base.CpuId(unchecked((int)0x80000006), 0).Ecx >> 16) & 65535) * 1024;
            if (Plausible(l1, l2)) return (l1, l2);
        }
        return null;
    }
}
