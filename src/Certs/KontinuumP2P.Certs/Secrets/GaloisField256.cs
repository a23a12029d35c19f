namespace KontinuumP2P.Certs.Secrets;

/// <summary>
/// Arithmetic in GF(2^8) with the AES polynomial x^8 + x^4 + x^3 + x + 1. Multiplication is a fixed 8-step loop
/// without tables or secret-dependent branches, so share arithmetic does not leak the secret through timing.
/// </summary>
internal static class GaloisField256
{
    public static byte Multiply(byte a, byte b)
    {
        int x = a, y = b, product = 0;
        for (var i = 0; i < 8; i++)
        {
            product ^= -(y & 1) & x;
            var carry = -((x >> 7) & 1);
            x = ((x << 1) ^ (carry & 0x11B)) & 0xFF;
            y >>= 1;
        }
        return (byte)product;
    }

    /// <summary>The multiplicative inverse (a^254); the inverse of 0 is taken as 0 and never used.</summary>
    public static byte Inverse(byte a)
    {
        byte result = 1, power = a;
        for (var e = 254; e > 0; e >>= 1)
        {
            if ((e & 1) != 0) result = Multiply(result, power);
            power = Multiply(power, power);
        }
        return result;
    }

    public static byte Divide(byte a, byte b) => Multiply(a, Inverse(b));
}
