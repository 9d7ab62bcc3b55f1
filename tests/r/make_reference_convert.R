# Reference values for metareview's mean/SD-from-quantiles estimators
# (metareview.convert.mean_sd_from_quantiles), computed with metafor::conv.fivenum().
#
# Requires metafor >= 4.0 (conv.fivenum() does not exist in older versions, e.g. the
# Debian metafor 3.8-1). Run from the repository root with a metafor that has
# conv.fivenum, e.g.
#     R_LIBS=/path/to/newer/lib Rscript tests/r/make_reference_convert.R
#
# Writes tests/fixtures/convert/fivenum.json. See tests/r/README.md.
#
# Settings of every call:
#   transf = FALSE  the back-transformation applies only to dist = "lnorm"; switched off
#                   so that no row can be transformed (all rows here use dist = "norm")
#   test   = FALSE  conv.fivenum() otherwise tests each row for skewness and returns NA
#                   for rows that look skewed; off, every row gets the raw estimator
#   dist   = "norm"
# conv.fivenum() returns NA for rows with n < 5, so every case here has n >= 5.

suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

if (packageVersion("metafor") < "4.0" || !exists("conv.fivenum", envir = asNamespace("metafor"))) {
  stop("this script needs metafor >= 4.0 (conv.fivenum); found metafor ",
       as.character(packageVersion("metafor")),
       ". Run with R_LIBS pointing to a library that has a newer metafor.")
}

OUT_DIR <- file.path("tests", "fixtures", "convert")
dir.create(OUT_DIR, recursive = TRUE, showWarnings = FALSE)

# ---------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------

# Sample sizes: small and large, and both sides of the sample-size thresholds of
# Hozo et al.'s rules (mean: n <= 25; SD: n <= 15, 15 < n <= 70, n > 70).
NS <- c(5, 8, 10, 15, 16, 25, 26, 40, 50, 70, 71, 100, 250, 1000, 10000)

# Five-number summaries (min, q1, median, q3, max); skewed on purpose so that the
# weights of each estimator matter, plus one with negative values.
SUMMARIES <- list(
  skew_right = c(2, 7, 10, 15, 25),
  skew_left  = c(-3.5, -1.1, 0.3, 1.0, 4.8),
  symmetric  = c(10, 18, 20, 22, 30)
)

# Scenarios: which of the five numbers are given (S1 min/median/max,
# S2 q1/median/q3, S3 all five).
SCENARIOS <- list(
  S1 = c(min = TRUE,  q1 = FALSE, q3 = FALSE, max = TRUE),
  S2 = c(min = FALSE, q1 = TRUE,  q3 = TRUE,  max = FALSE),
  S3 = c(min = TRUE,  q1 = TRUE,  q3 = TRUE,  max = TRUE)
)

# conv.fivenum methods (mean, SD). "hozo2005" applies to S1 only (NA otherwise);
# "shi2020" for the SD applies to S3 only (NA in S1 and S2); "luo2016" is the mean
# estimator of Luo et al. (online 2016, Stat Methods Med Res 2018).
METHODS <- list(
  hozo2005    = c("hozo2005", "hozo2005"),
  wan2014     = c("wan2014", "wan2014"),
  luo2016_shi2020 = c("luo2016", "shi2020"),
  default     = c("luo/wan/shi", "luo/wan/shi")
)

# one row per (summary, scenario, n)
rows <- do.call(rbind, lapply(names(SUMMARIES), function(s) {
  v <- SUMMARIES[[s]]
  do.call(rbind, lapply(names(SCENARIOS), function(sc) {
    g <- SCENARIOS[[sc]]
    data.frame(summary = s, scenario = sc, n = NS,
               min = if (g[["min"]]) v[1] else NA_real_,
               q1 = if (g[["q1"]]) v[2] else NA_real_,
               median = v[3],
               q3 = if (g[["q3"]]) v[4] else NA_real_,
               max = if (g[["max"]]) v[5] else NA_real_,
               stringsAsFactors = FALSE)
  }))
}))

# ---------------------------------------------------------------------------
# Reference values
# ---------------------------------------------------------------------------

cases <- list()
for (label in names(METHODS)) {
  meth <- METHODS[[label]]
  method_text <- if (meth[1] == meth[2]) sprintf('"%s"', meth[1]) else
    sprintf('c("%s", "%s")', meth[1], meth[2])
  r_call <- sprintf(paste0("conv.fivenum(min = min, q1 = q1, median = median, q3 = q3, max = max, ",
                           "n = n, data = rows, method = %s, dist = \"norm\", transf = FALSE, ",
                           "test = FALSE, append = FALSE)"), method_text)
  res <- conv.fivenum(min = min, q1 = q1, median = median, q3 = q3, max = max, n = n,
                      data = rows, method = meth, dist = "norm", transf = FALSE,
                      test = FALSE, append = FALSE)
  for (i in seq_len(nrow(rows))) {
    r <- rows[i, ]
    cases[[length(cases) + 1]] <- list(
      case = sprintf("%s_%s_%s_n%d", label, r$summary, r$scenario, as.integer(r$n)),
      method = label,
      method_mean = meth[1],
      method_sd = meth[2],
      scenario = r$scenario,
      summary = r$summary,
      n = r$n,
      min = r$min, q1 = r$q1, median = r$median, q3 = r$q3, max = r$max,
      mean = as.numeric(res$mean[i]),
      sd = as.numeric(res$sd[i]),
      r_call = r_call
    )
  }
}

fixture <- list(
  description = paste("Means and SDs estimated from five-number summaries by metafor::conv.fivenum()",
                      "(one row per case; null = not given / not estimated)."),
  r_version = R.version.string,
  metafor_version = as.character(packageVersion("metafor")),
  jsonlite_version = as.character(packageVersion("jsonlite")),
  settings = list(dist = "norm", transf = FALSE, test = FALSE),
  methods = lapply(METHODS, function(m) list(mean = m[1], sd = m[2])),
  cases = cases
)

path <- file.path(OUT_DIR, "fivenum.json")
writeLines(toJSON(fixture, digits = NA, auto_unbox = TRUE, na = "null", null = "null", pretty = TRUE),
           path)
cat("wrote", path, "with", length(cases), "cases\n")
