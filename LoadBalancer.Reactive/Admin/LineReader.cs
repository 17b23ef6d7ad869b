using System.Text;

namespace LoadBalancer.Reactive.Admin;

/// <summary>Reads lines of at most a given length from a stream, in one buffer allocated once.</summary>
internal sealed class LineReader(Stream stream, int maxLength)
{
    // The longest line, with its "\r\n".
    private readonly byte[] _buffer = new byte[maxLength + 2];
    private int _start;
    private int _end;

    /// <summary>The next line without its line end; null when the stream ended (a last line without '\n' is dropped).</summary>
    /// <exception cref="InvalidDataException">The line is longer than the bound.</exception>
    public async ValueTask<string?> ReadLineAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var newline = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
            if (newline >= 0)
            {
                var length = newline - _start;
                if (length > 0 && _buffer[newline - 1] == (byte)'\r')
                {
                    length--;
                }

                if (length > maxLength)
                {
                    throw new InvalidDataException($"line longer than {maxLength} bytes");
                }

                var line = Encoding.UTF8.GetString(_buffer, _start, length);
                _start = newline + 1;
                return line;
            }

            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                (_end, _start) = (_end - _start, 0);
            }

            if (_end == _buffer.Length)
            {
                throw new InvalidDataException($"line longer than {maxLength} bytes");
            }

            var read = await stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                return null;
            }

            _end += read;
        }
    }
}
