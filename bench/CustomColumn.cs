using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace GpuNet.Bench;

/// <summary>
/// The parts every custom numeric column of these suites shares (GFLOP/s, GB/s, % of a copy); a column only says its
/// name, legend and how to compute its value from the summary.
/// </summary>
internal abstract class CustomColumn(string id, string name, int priority, string legend) : IColumn
{
    public string Id => id;
    public string ColumnName => name;
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => priority;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => legend;

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public bool IsAvailable(Summary summary) => true;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => Value(summary, benchmarkCase);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) => Value(summary, benchmarkCase);

    /// <summary>The cell's text for one benchmark case.</summary>
    protected abstract string Value(Summary summary, BenchmarkCase benchmarkCase);

    public override string ToString() => ColumnName;
}
