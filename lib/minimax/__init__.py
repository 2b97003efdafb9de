"""Chapter 1: the bilinear game f(x, y) = (x − 1)(y − 1), symbolic analysis and GDA variants."""
