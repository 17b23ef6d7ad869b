using LoadBalancer.Reactive.Balancing;
using LoadBalancer.Reactive.Balancing.Strategies;

namespace LoadBalancer.Reactive.Tests.Balancing.Strategies;

/// <summary>
/// The built-in strategies as they were before the backend tree: plain scans of <see cref="BalancingContext.Backends"/>,
/// kept as the reference the O(log n) picks must agree with, decision for decision.
/// </summary>
internal static class LinearStrategies
{
    public static ILoadBalancingStrategy Create(string name) => name switch
    {
        LoadBalancingStrategies.LeastConnections => new LeastLoadedScan(LeastConnectionsStrategy.LessLoaded),
        LoadBalancingStrategies.WeightedLeastConnections => new LeastLoadedScan(WeightedLeastConnectionsStrategy.LessLoaded),
        LoadBalancingStrategies.RoundRobin => new RoundRobinScan(),
        LoadBalancingStrategies.WeightedRoundRobin => new SmoothWeightedScan(),
        LoadBalancingStrategies.Random => new RandomScan(),
        LoadBalancingStrategies.PowerOfTwoChoices => new PowerOfTwoScan(),
        LoadBalancingStrategies.SourceIpHash => new SourceIpHashScan(),
        _ => throw new ArgumentException($"No linear reference for '{name}'.", nameof(name)),
    };

    private sealed class LeastLoadedScan(Func<BackendSnapshot, BackendSnapshot, bool> lessLoaded) : ILoadBalancingStrategy
    {
        public int Pick(in BalancingContext context)
        {
            var backends = context.Backends;
            var available = backends.Count(backend => backend.Available);
            if (available == 0)
            {
                return BalancingContext.None;
            }

            var skip = (int)(context.DecisionNumber % available);
            var start = 0;
            while (!backends[start].Available || skip-- > 0)
            {
                start++;
            }

            var best = BalancingContext.None;
            for (var offset = 0; offset < backends.Length; offset++)
            {
                var index = (start + offset) % backends.Length;
                if (backends[index].Available && (best < 0 || lessLoaded(backends[index], backends[best])))
                {
                    best = index;
                }
            }

            return best;
        }
    }

    private sealed class RoundRobinScan : ILoadBalancingStrategy
    {
        private int _next;

        public int Pick(in BalancingContext context)
        {
            var backends = context.Backends;
            for (var offset = 0; offset < backends.Length; offset++)
            {
                var index = (_next + offset) % backends.Length;
                if (backends[index].Available)
                {
                    _next = (index + 1) % backends.Length;
                    return index;
                }
            }

            return BalancingContext.None;
        }
    }

    private sealed class SmoothWeightedScan : ILoadBalancingStrategy
    {
        private long[] _scores = [];
        private long _membershipVersion = -1;

        public int Pick(in BalancingContext context)
        {
            var backends = context.Backends;
            if (_membershipVersion != context.MembershipVersion || _scores.Length != backends.Length)
            {
                _scores = new long[backends.Length];
                _membershipVersion = context.MembershipVersion;
            }

            long total = 0;
            var best = BalancingContext.None;
            for (var index = 0; index < backends.Length; index++)
            {
                if (backends[index].Available)
                {
                    _scores[index] += backends[index].EffectiveWeight;
                    total += backends[index].EffectiveWeight;
                    best = best < 0 || _scores[index] > _scores[best] ? index : best;
                }
            }

            if (best >= 0)
            {
                _scores[best] -= total;
            }

            return best;
        }
    }

    private sealed class RandomScan : ILoadBalancingStrategy
    {
        public int Pick(in BalancingContext context) => PickWeighted(context);

        public static int PickWeighted(in BalancingContext context, int excluded = BalancingContext.None)
        {
            var backends = context.Backends;
            long total = 0;
            for (var index = 0; index < backends.Length; index++)
            {
                total += index != excluded && backends[index].Available ? backends[index].EffectiveWeight : 0;
            }

            if (total == 0)
            {
                return BalancingContext.None;
            }

            var ticket = context.Random.NextInt64(total);
            for (var index = 0; index < backends.Length; index++)
            {
                if (index != excluded && backends[index].Available)
                {
                    ticket -= backends[index].EffectiveWeight;
                    if (ticket < 0)
                    {
                        return index;
                    }
                }
            }

            return BalancingContext.None;
        }
    }

    private sealed class PowerOfTwoScan : ILoadBalancingStrategy
    {
        public int Pick(in BalancingContext context)
        {
            var first = RandomScan.PickWeighted(context);
            if (first < 0)
            {
                return BalancingContext.None;
            }

            var second = RandomScan.PickWeighted(context, excluded: first);
            return second >= 0 && context.Backends[second].ActiveConnections < context.Backends[first].ActiveConnections ? second : first;
        }
    }

    private sealed class SourceIpHashScan : ILoadBalancingStrategy
    {
        private int[] _byAddress = [];
        private long _membershipVersion = -1;

        public int Pick(in BalancingContext context)
        {
            var backends = context.Backends;
            if (_membershipVersion != context.MembershipVersion || _byAddress.Length != backends.Length)
            {
                _byAddress = [.. Enumerable.Range(0, backends.Length).OrderBy(i => backends[i].Address, StringComparer.OrdinalIgnoreCase)];
                _membershipVersion = context.MembershipVersion;
            }

            var available = backends.Count(backend => backend.Available);
            if (available == 0)
            {
                return BalancingContext.None;
            }

            var slot = (long)(StableHash.ClientKey(context) % (ulong)available);
            foreach (var index in _byAddress)
            {
                if (backends[index].Available && slot-- == 0)
                {
                    return index;
                }
            }

            return BalancingContext.None;
        }
    }
}
