using System.Text.RegularExpressions;

namespace GpuNet.Kernels;

/// <summary>
/// What one loop of a PTX kernel executes per iteration, counted from the text: float multiplies and adds (ILGPU writes
/// <c>a·b + c</c> as <c>mul.f32</c> then <c>add.f32</c>, which ptxas contracts into one FFMA by default), explicit
/// <c>fma</c>, shared and global loads and stores, and barriers. Instructions in a branch inside the loop (a prefetch
/// skipped on the last slice) are counted as if taken.
/// </summary>
/// <param name="Label">The label of the loop's header block in the PTX.</param>
/// <param name="Lines">Instructions in the loop's blocks.</param>
/// <param name="Mul">f32 multiplies.</param>
/// <param name="Add">f32 adds.</param>
/// <param name="Fma">f32 fused multiply-adds.</param>
/// <param name="LdShared">Loads from shared memory.</param>
/// <param name="LdGlobal">Loads from global memory.</param>
/// <param name="StShared">Stores to shared memory.</param>
/// <param name="Barriers">Group barriers (<c>bar.sync</c>/<c>barrier.sync</c>).</param>
/// <param name="Start">The header's line (0-based).</param>
/// <param name="Innermost">True when no other loop lies inside this one.</param>
public sealed record PtxLoopFigures(string Label, int Start, int Lines, int Mul, int Add, int Fma, int LdShared, int LdGlobal, int StShared,
    int Barriers, bool Innermost)
{
    /// <summary>Multiply-adds per iteration: explicit FMAs plus multiply/add pairs (the smaller of the two counts).</summary>
    public int MultiplyAdds => Fma + Math.Min(Mul, Add);

    /// <summary>Multiply-adds per shared-memory load, or infinity when the loop loads nothing from shared memory.</summary>
    public double PerSharedLoad => LdShared == 0 ? double.PositiveInfinity : (double)MultiplyAdds / LdShared;

    /// <summary>Multiply-adds per global load, or infinity when the loop loads nothing from global memory.</summary>
    public double PerGlobalLoad => LdGlobal == 0 ? double.PositiveInfinity : (double)MultiplyAdds / LdGlobal;
}

/// <summary>
/// Finds the loops of a PTX kernel and counts what each executes per iteration: the text is split into basic blocks, a
/// branch to a block that dominates the branching one is a back edge, and the loop is the natural loop of that edge (the
/// header and every block that reaches the back edge without passing the header), wherever its blocks are laid out
/// (ILGPU places some branches of a loop after its end).
/// </summary>
public static partial class PtxLoops
{
    private sealed class Block
    {
        public string? Label;
        public int Start;
        public readonly List<string> Instructions = [];
        public readonly List<int> Successors = [];
        public readonly List<int> Predecessors = [];
    }

    /// <summary>Every loop of <paramref name="ptx"/>'s first entry, ordered by where its header is. An outer loop's
    /// figures include its inner loops' instructions once.</summary>
    public static IReadOnlyList<PtxLoopFigures> Find(string ptx)
    {
        ArgumentNullException.ThrowIfNull(ptx);
        var blocks = Split(ptx.Split('\n'));
        int n = blocks.Count;
        // Dominators, iteratively: dom(0) = {0}, dom(b) = {b} ∪ ⋂ dom(pred).
        var dom = new System.Collections.BitArray[n];
        for (int b = 0; b < n; b++)
        {
            dom[b] = new System.Collections.BitArray(n, b != 0);
            dom[b][b] = true;
        }
        bool changed = true;
        while (changed)
        {
            changed = false;
            for (int b = 1; b < n; b++)
            {
                var next = new System.Collections.BitArray(n, true);
                bool any = false;
                foreach (int p in blocks[b].Predecessors)
                {
                    next.And(dom[p]);
                    any = true;
                }
                if (!any) next.SetAll(false);
                next[b] = true;
                for (int i = 0; i < n; i++)
                    if (next[i] != dom[b][i]) { dom[b] = next; changed = true; break; }
            }
        }
        // Natural loops, merged per header.
        var bodies = new SortedDictionary<int, HashSet<int>>();
        for (int u = 0; u < n; u++)
            foreach (int h in blocks[u].Successors)
            {
                if (!dom[u][h]) continue;
                if (!bodies.TryGetValue(h, out var body)) bodies[h] = body = [h];
                var stack = new Stack<int>();
                if (body.Add(u)) stack.Push(u);
                while (stack.Count > 0)
                    foreach (int p in blocks[stack.Pop()].Predecessors)
                        if (body.Add(p)) stack.Push(p);
            }
        var loops = new List<PtxLoopFigures>();
        foreach (var (header, body) in bodies)
        {
            int mul = 0, add = 0, fma = 0, lds = 0, ldg = 0, sts = 0, bar = 0, lines = 0;
            foreach (int b in body)
                foreach (string s in blocks[b].Instructions)
                {
                    lines++;
                    if (s.StartsWith("mul.f32", StringComparison.Ordinal) || s.StartsWith("mul.rn.f32", StringComparison.Ordinal)) mul++;
                    else if (s.StartsWith("add.f32", StringComparison.Ordinal) || s.StartsWith("add.rn.f32", StringComparison.Ordinal)) add++;
                    else if (s.StartsWith("fma.rn.f32", StringComparison.Ordinal)) fma++;
                    else if (s.StartsWith("ld.shared", StringComparison.Ordinal)) lds++;
                    else if (s.StartsWith("ld.global", StringComparison.Ordinal)) ldg++;
                    else if (s.StartsWith("st.shared", StringComparison.Ordinal)) sts++;
                    else if (s.StartsWith("bar.sync", StringComparison.Ordinal) || s.StartsWith("barrier.sync", StringComparison.Ordinal)) bar++;
                }
            var inner = bodies.Keys.Where(h => h != header && body.Contains(h)).ToList();
            loops.Add(new PtxLoopFigures(blocks[header].Label ?? $"block{header}", blocks[header].Start, lines, mul, add, fma,
                lds, ldg, sts, bar, inner.Count == 0));
        }
        return loops;
    }

    /// <summary>The loop that does a GEMM's multiply-adds: of the innermost loops, the one with the most multiply-adds
    /// (for a kernel with an unrolled depth slice, the loop over slices), or null when no innermost loop multiplies.</summary>
    public static PtxLoopFigures? MultiplyLoop(string ptx) =>
        Find(ptx).Where(l => l.Innermost && l.MultiplyAdds > 0).OrderByDescending(l => l.MultiplyAdds).FirstOrDefault();

    // Basic blocks of the first .entry's body: a block starts at a label or after a branch or return.
    private static List<Block> Split(string[] text)
    {
        var blocks = new List<Block>();
        var byLabel = new Dictionary<string, int>(StringComparer.Ordinal);
        var targets = new List<(int Block, string Target, bool Conditional)>();
        int i = 0;
        while (i < text.Length && !text[i].Contains(".entry ", StringComparison.Ordinal)) i++;
        while (i < text.Length && text[i].Trim() != "{") i++;
        var current = new Block { Start = i };
        blocks.Add(current);
        bool ended = false; // the current block ended with an unconditional transfer
        int depth = 0;
        for (i++; i < text.Length; i++)
        {
            string s = text[i].Trim();
            if (s == "{") { depth++; continue; }
            if (s == "}")
            {
                if (depth-- == 0) break;
                continue;
            }
            if (s.Length == 0 || s.StartsWith("//", StringComparison.Ordinal) || s.StartsWith(".reg", StringComparison.Ordinal)
                || s.StartsWith(".local", StringComparison.Ordinal) || s.StartsWith(".shared", StringComparison.Ordinal)) continue;
            var label = LabelLine().Match(s);
            if (label.Success)
            {
                var next = new Block { Label = label.Groups[1].Value, Start = i };
                if (!ended) Link(current, blocks.Count, blocks, next);
                blocks.Add(next);
                byLabel[next.Label] = blocks.Count - 1;
                current = next;
                ended = false;
                continue;
            }
            if (ended || (current.Instructions.Count > 0 && EndsBlock(current.Instructions[^1])))
            {
                var next = new Block { Start = i };
                if (!ended) Link(current, blocks.Count, blocks, next);
                blocks.Add(next);
                current = next;
                ended = false;
            }
            current.Instructions.Add(s);
            var branch = Branch().Match(s);
            if (branch.Success)
            {
                bool conditional = s.StartsWith('@');
                targets.Add((blocks.Count - 1, branch.Groups[1].Value, conditional));
                if (!conditional) ended = true;
            }
            else if (s.StartsWith("ret", StringComparison.Ordinal) || s.StartsWith("exit", StringComparison.Ordinal)) ended = true;
        }
        foreach (var (from, target, _) in targets)
            if (byLabel.TryGetValue(target, out int to))
            {
                blocks[from].Successors.Add(to);
                blocks[to].Predecessors.Add(from);
            }
        return blocks;
    }

    private static bool EndsBlock(string instruction) => Branch().IsMatch(instruction);

    private static void Link(Block from, int toIndex, List<Block> blocks, Block to)
    {
        from.Successors.Add(toIndex);
        to.Predecessors.Add(blocks.IndexOf(from));
    }

    [GeneratedRegex(@"^\s*([A-Za-z_$][\w$]*):\s*$")]
    private static partial Regex LabelLine();

    [GeneratedRegex(@"\bbra(?:\.uni)?\s+([A-Za-z_$][\w$]*)\s*;")]
    private static partial Regex Branch();
}
