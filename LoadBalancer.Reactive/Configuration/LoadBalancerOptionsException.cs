namespace LoadBalancer.Reactive.Configuration;

/// <summary>
/// Thrown when <see cref="LoadBalancerOptions"/> are invalid. <see cref="Errors"/> lists every
/// problem found, each naming the field or backend at fault.
/// </summary>
public sealed class LoadBalancerOptionsException : ArgumentException
{
    /// <summary>Creates the exception from the problems found.</summary>
    /// <param name="errors">One message per problem.</param>
    public LoadBalancerOptionsException(IReadOnlyList<string> errors)
        : base(FormatMessage(errors))
    {
        Errors = errors;
    }

    /// <summary>Every problem found, one message each.</summary>
    public IReadOnlyList<string> Errors { get; }

    private static string FormatMessage(IReadOnlyList<string> errors) =>
        $"Invalid load balancer options ({errors.Count} problem{(errors.Count == 1 ? "" : "s")}):"
        + string.Concat(errors.Select(error => Environment.NewLine + "  - " + error));
}
