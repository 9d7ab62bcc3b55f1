# Reference values for metareview's statistical core, computed with R metafor.
#
# Run from the repository root:
#     Rscript tests/r/make_reference_core.R
#
# Writes one JSON file per dataset into tests/fixtures/core/, the degenerate cases
# into tests/fixtures/core/degenerate.json, and the seed paper's data as
# tests/fixtures/seed_tr.csv and tests/fixtures/seed_pain3.csv.
# See tests/r/README.md for the fixture schema.

suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

OUT_DIR <- file.path("tests", "fixtures", "core")
dir.create(OUT_DIR, recursive = TRUE, showWarnings = FALSE)

# ---------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------

METHODS <- c("FE", "DL", "PM", "REML", "ML", "HS", "SJ", "HE", "EB")
TESTS <- c("z", "knha")

# rma.uni (metafor 3.8-1) control names and where they act:
#   threshold - convergence criterion (absolute change in tau2) of the Fisher
#               scoring iterations for ML, REML and EB
#   maxiter   - iteration limit for ML/REML/EB and for uniroot() in PM
#   tol       - uniroot() tolerance for PM (default .Machine$double.eps^0.25);
#               also the log-likelihood margin of the ML/REML "ll0check"
#   tau2.max  - upper end of PM's uniroot() search interval (default
#               max(100, 10 * mad(yi)^2)); confint() inherits it
# DL, HS, HE are closed form; SJ in metafor 3.8 is the one-step estimator
# from the initial value var(yi) * (k - 1) / k (no iteration).
RMA_CONTROL <- list(threshold = 1e-12, maxiter = 10000, tol = 1e-12, tau2.max = 1e6)
RMA_CONTROL_TEXT <- "list(threshold = 1e-12, maxiter = 10000, tol = 1e-12, tau2.max = 1e6)"
# confint.rma.uni (Q-profile): uniroot() with tol and maxiter; its search
# interval is [0, fit$control$tau2.max].
CONFINT_CONTROL <- list(tol = 1e-12, maxiter = 10000)
CONFINT_CONTROL_TEXT <- "list(tol = 1e-12, maxiter = 10000)"

META <- list(
  r_version = R.version.string,
  metafor_version = as.character(packageVersion("metafor")),
  metadat_version = as.character(packageVersion("metadat")),
  jsonlite_version = as.character(packageVersion("jsonlite")),
  rma_control = RMA_CONTROL,
  confint_control = CONFINT_CONTROL,
  level = 95
)

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

strip_ansi <- function(x) gsub("\033\\[[0-9;]*m", "", x)

# Evaluate expr; return its value (or an error object) and the warnings.
capture <- function(expr) {
  warns <- character(0)
  val <- withCallingHandlers(
    tryCatch(expr, error = function(e) structure(list(message = strip_ansi(conditionMessage(e))),
                                                 class = "caught_error")),
    warning = function(w) {
      warns <<- c(warns, strip_ansi(conditionMessage(w)))
      invokeRestart("muffleWarning")
    })
  list(value = val, warnings = unique(warns))
}
is_err <- function(x) inherits(x, "caught_error")

num <- function(x) {               # scalar or NA (-> JSON null)
  if (is.null(x) || length(x) == 0) return(NA_real_)
  x <- as.numeric(x)[1]
  if (!is.finite(x)) NA_real_ else x
}
arr <- function(x) {               # always a JSON array, non-finite -> null
  x <- as.numeric(x)
  x[!is.finite(x)] <- NA_real_
  I(x)
}

write_fixture <- function(obj, name) {
  path <- file.path(OUT_DIR, paste0(name, ".json"))
  txt <- toJSON(obj, digits = NA, auto_unbox = TRUE, na = "null", null = "null", pretty = TRUE)
  writeLines(txt, path)
  cat(sprintf("wrote %s (%d cases)\n", path, length(obj$cases)))
}

# One fitted case. `d` is the data frame in metareview's column names,
# `escalc_text` an escalc() call on `d` as text (evaluated here), `input_cols`
# the raw columns recorded as input.
run_case <- function(dataset, measure, method, test, d, escalc_text, input_cols,
                     variant = NULL, options = NULL, bt = NULL) {
  esc <- capture(eval(parse(text = escalc_text)))
  if (is_err(esc$value)) stop(esc$value$message)
  es <- esc$value
  yi <- as.numeric(es$yi)
  vi <- as.numeric(es$vi)

  fit_text <- sprintf('fit <- rma(yi, vi, data = es, method = "%s", test = "%s", control = %s)',
                      method, test, RMA_CONTROL_TEXT)
  ci_text <- sprintf("confint(fit, type = \"QP\", control = %s)", CONFINT_CONTROL_TEXT)
  r_call <- c(paste0("es <- ", escalc_text), fit_text, "predict(fit)", "weights(fit)")
  if (method != "FE") r_call <- c(r_call, ci_text)

  input <- c(list(study = I(as.character(d$study))),
             lapply(d[input_cols], function(v) arr(v)))

  case_name <- paste(dataset, measure, method, test, sep = "_")
  if (!is.null(variant)) case_name <- paste(case_name, variant, sep = "_")

  res <- list(case = case_name, dataset = dataset, measure = measure, method = method, test = test,
              variant = if (is.null(variant)) NA else variant,
              options = if (is.null(options)) NA else options,
              r_call = paste(r_call, collapse = "; "),
              input = input,
              escalc = list(yi = arr(yi), vi = arr(vi)))

  cap <- capture(rma(yi, vi, data = es, method = method, test = test, control = RMA_CONTROL))
  warns <- c(if (length(esc$warnings)) paste("escalc:", esc$warnings), cap$warnings)
  fit <- cap$value
  if (is_err(fit)) {
    res$fit <- NA
    res$error <- fit$message
    res$warnings <- I(warns)
    return(res)
  }

  k <- fit$k
  pr <- capture(predict(fit))
  warns <- c(warns, pr$warnings)
  pr <- pr$value

  tau2_ci <- i2_ci <- h2_ci <- c(NA_real_, NA_real_)
  ci_signs <- NA
  if (method != "FE") {
    ci <- capture(confint(fit, type = "QP", control = CONFINT_CONTROL))
    warns <- c(warns, ci$warnings)
    if (is_err(ci$value)) {
      warns <- c(warns, paste("confint:", ci$value$message))
    } else {
      rr <- ci$value$random
      tau2_ci <- rr["tau^2", c("ci.lb", "ci.ub")]
      i2_ci <- rr["I^2(%)", c("ci.lb", "ci.ub")]
      h2_ci <- rr["H^2", c("ci.lb", "ci.ub")]
      ci_signs <- list(lb = ci$value$lb.sign, ub = ci$value$ub.sign)
    }
  }

  w <- rep(NA_real_, length(yi))
  w[fit$not.na] <- weights(fit)

  res$fit <- list(
    estimate = num(fit$beta), se = num(fit$se),
    ci_low = num(fit$ci.lb), ci_high = num(fit$ci.ub),
    statistic = num(fit$zval), p = num(fit$pval),
    df = if (test == "knha") num(fit$ddf) else NA,
    tau2 = num(fit$tau2), se_tau2 = num(fit$se.tau2), tau = num(sqrt(fit$tau2)),
    q = num(fit$QE), q_df = num(k - fit$p), q_p = num(fit$QEp),
    i2 = num(fit$I2), h2 = num(fit$H2),
    tau2_ci_low = num(tau2_ci[1]), tau2_ci_high = num(tau2_ci[2]),
    i2_ci_low = num(i2_ci[1]), i2_ci_high = num(i2_ci[2]),
    h2_ci_low = num(h2_ci[1]), h2_ci_high = num(h2_ci[2]),
    pred_low = num(pr$pi.lb), pred_high = num(pr$pi.ub),
    weights = arr(w),
    iterations = NA,
    converged = TRUE,
    test_used = fit$test,
    k = k,
    vt = num(fit$vt),
    s2w = num(fit$s2w),
    confint_signs = ci_signs
  )

  # back-transformation of the pooled values
  if (!is.null(bt)) {
    bt_text <- if (is.null(bt$targs_text)) sprintf("predict(fit, transf = %s)", bt$transf)
               else sprintf("predict(fit, transf = %s, targs = %s)", bt$transf, bt$targs_text)
    pb <- capture(eval(parse(text = bt_text)))
    warns <- c(warns, pb$warnings)
    pb <- pb$value
    res$backtransformed <- list(transf = bt$transf, r_call = bt_text,
                                estimate = num(pb$pred), ci_low = num(pb$ci.lb), ci_high = num(pb$ci.ub),
                                pred_low = num(pb$pi.lb), pred_high = num(pb$pi.ub))
  } else {
    res$backtransformed <- NA
  }
  res$warnings <- I(unique(warns))
  res
}

run_all <- function(dataset, measure, d, escalc_text, input_cols, variant = NULL,
                    options = NULL, bt = NULL, methods = METHODS) {
  out <- list()
  for (m in methods) for (t in TESTS) {
    out[[length(out) + 1]] <- run_case(dataset, measure, m, t, d, escalc_text, input_cols,
                                       variant = variant, options = options, bt = bt)
  }
  out
}

# ---------------------------------------------------------------------------
# Single incidence rates
# ---------------------------------------------------------------------------

hart <- with(dat.hart1999, data.frame(study = paste0(trial, " ", study), events = x1i, time = t1i,
                                      stringsAsFactors = FALSE))
local({
  cases <- list()
  for (m in c("IR", "IRLN", "IRS", "IRFT")) {
    txt <- sprintf('escalc("%s", xi = events, ti = time, data = d)', m)
    cases <- c(cases, run_all("hart1999", m, hart, txt, c("events", "time"),
                              bt = if (m == "IRLN") list(transf = "exp") else NULL))
  }
  write_fixture(c(list(dataset = "hart1999",
                       description = "Single incidence rates: metadat::dat.hart1999 (x1i -> events, t1i -> time; treatment arm).",
                       source = "metadat::dat.hart1999", design = "rate"), META,
                  list(cases = cases)), "hart1999")
})

# ---------------------------------------------------------------------------
# Proportions
# ---------------------------------------------------------------------------

PROP_BT <- list(
  PR  = NULL,
  PLO = list(transf = "transf.ilogit"),
  PAS = list(transf = "transf.iarcsin"),
  PFT = list(transf = "transf.ipft.hm", targs_text = "list(ni = d$n)"),
  PLN = list(transf = "exp")
)

study_ci <- function(d) {
  cp <- t(mapply(function(x, n) binom.test(x, n)$conf.int, d$events, d$n))
  wi <- t(mapply(function(x, n) suppressWarnings(prop.test(x, n, correct = FALSE))$conf.int, d$events, d$n))
  wc <- t(mapply(function(x, n) suppressWarnings(prop.test(x, n, correct = TRUE))$conf.int, d$events, d$n))
  list(r_call = paste("binom.test(x, n)$conf.int;",
                      "prop.test(x, n, correct = FALSE)$conf.int;",
                      "prop.test(x, n, correct = TRUE)$conf.int"),
       cp_low = arr(cp[, 1]), cp_high = arr(cp[, 2]),
       wilson_low = arr(wi[, 1]), wilson_high = arr(wi[, 2]),
       wilsoncc_low = arr(wc[, 1]), wilsoncc_high = arr(wc[, 2]))
}

prop_dataset <- function(name, description, source, d, to_variants = FALSE) {
  cases <- list()
  for (m in c("PR", "PLO", "PAS", "PFT", "PLN")) {
    txt <- sprintf('escalc("%s", xi = events, ni = n, data = d, add = 1/2, to = "only0")', m)
    cases <- c(cases, run_all(name, m, d, txt, c("events", "n"),
                              options = list(add = 0.5, to = "only0"), bt = PROP_BT[[m]]))
  }
  if (to_variants) {
    for (m in c("PLO", "PR")) for (to in c("all", "if0all", "none")) {
      txt <- sprintf('escalc("%s", xi = events, ni = n, data = d, add = 1/2, to = "%s")', m, to)
      cases <- c(cases, run_all(name, m, d, txt, c("events", "n"), variant = paste0("to-", to),
                                options = list(add = 0.5, to = to), bt = PROP_BT[[m]]))
    }
  }
  c(list(dataset = name, description = description, source = source, design = "proportion"), META,
    list(study_ci = study_ci(d), cases = cases))
}

# Seed paper (Baal et al. 2021, Table 2): treatment response, 20 studies.
seed_tr <- data.frame(
  study = c("Namba", "Tsai", "Wang B", "Giles", "Dababou", "Bertrand", "Harding", "Lee H", "Chan M",
            "Anzidei", "Huisman", "Hurwitz", "Pfeffer 2014", "Turkevich", "Zaccagna", "Boni", "Napoli",
            "Pfeffer 2013", "Liberman", "Gianfelice"),
  events = c(8, 26, 26, 6, 109, 14, 13, 16, 6, 22, 7, 72, 16, 32, 63, 8, 16, 13, 18, 11),
  n = c(10, 31, 30, 9, 140, 17, 18, 21, 6, 23, 11, 112, 22, 32, 72, 11, 18, 17, 25, 11),
  stringsAsFactors = FALSE)
stopifnot(sum(seed_tr$events) == 502, sum(seed_tr$n) == 636)
write.csv(seed_tr, file.path("tests", "fixtures", "seed_tr.csv"), row.names = FALSE, quote = FALSE)

# Seed paper, Table 2: pain score at baseline and 3 months (18 studies with
# baseline mean, baseline SD, 3-month mean and 3-month SD).
seed_pain3 <- data.frame(
  study = c("Namba", "Wang B.", "Giles", "Wang S.", "Chen Z.", "Xiong", "Lee H.", "Bazzocchi",
            "Anzidei", "Wang Q.", "Gu", "Joo", "Chen L.", "Hurwitz", "Zaccagna", "Napoli",
            "Liberman", "Gianfelice"),
  mean_pre  = c(6, 6.6, 7.3, 7.7, 6.7, 6.5, 6.57, 3.8, 7.09, 6.7, 6, 5.92, 8, 7, 6, 7.1, 5.9, 6.27),
  sd_pre    = c(2.7, 2.4, 1.4, 1.6, 1.5, 4, 1.6, 2.8, 1.8, 1.82, 1.5, 1.28, 1.1, 3.1, 6.3, 2.08, 0.8, 1.73),
  mean_post = c(2, 1.8, 1.5, 3.7, 4.8, 2.5, 1, 1.8, 1.04, 3.7, 2.2, 0.75, 3.4, 3.3, 2, 1, 1.8, 0.5),
  sd_post   = c(4.1, 0.96, 2.2, 2.7, 1.1, 4.75, 1.4, 2.3, 1.91, 2.81, 1, 1, 1.5, 3.4, 6.3, 1.1, 1.4, 0.54),
  n = c(10, 30, 9, 21, 26, 14, 21, 11, 23, 71, 23, 5, 7, 112, 72, 18, 25, 11),
  stringsAsFactors = FALSE)
stopifnot(sum(seed_pain3$n) == 509)
write.csv(seed_pain3, file.path("tests", "fixtures", "seed_pain3.csv"), row.names = FALSE, quote = FALSE)

pritz <- with(dat.pritz1997, data.frame(study = as.character(authors), events = xi, n = ni,
                                        stringsAsFactors = FALSE))

write_fixture(prop_dataset("pritz1997", "Single proportions: metadat::dat.pritz1997 (xi -> events, ni -> n).",
                           "metadat::dat.pritz1997", pritz), "pritz1997")
write_fixture(prop_dataset("seed_tr",
                           "Seed paper (Baal et al. 2021, Table 2): treatment response, 20 studies, 502/636. Variants with to = all, if0all, none for PLO and PR.",
                           "tests/fixtures/seed_tr.csv", seed_tr, to_variants = TRUE), "seed_tr")

# ---------------------------------------------------------------------------
# Two-group binary
# ---------------------------------------------------------------------------

BIN_BT <- list(OR = list(transf = "exp"), RR = list(transf = "exp"), RD = NULL)

bin_dataset <- function(name, description, source, d, drop00_variant = FALSE) {
  cases <- list()
  for (m in c("OR", "RR", "RD")) {
    txt <- sprintf('escalc("%s", ai = events_e, n1i = n_e, ci = events_c, n2i = n_c, data = d, add = 1/2, to = "only0", drop00 = FALSE)', m)
    cases <- c(cases, run_all(name, m, d, txt, c("events_e", "n_e", "events_c", "n_c"),
                              options = list(add = 0.5, to = "only0", drop00 = FALSE), bt = BIN_BT[[m]]))
  }
  if (drop00_variant) {
    for (m in c("OR", "RR", "RD")) {
      txt <- sprintf('escalc("%s", ai = events_e, n1i = n_e, ci = events_c, n2i = n_c, data = d, add = 1/2, to = "only0", drop00 = TRUE)', m)
      cases <- c(cases, run_all(name, m, d, txt, c("events_e", "n_e", "events_c", "n_c"),
                                variant = "drop00", options = list(add = 0.5, to = "only0", drop00 = TRUE),
                                bt = BIN_BT[[m]]))
    }
  }
  c(list(dataset = name, description = description, source = source, design = "binary"), META,
    list(cases = cases))
}

bcg <- with(dat.bcg, data.frame(study = paste(author, year), events_e = tpos, n_e = tpos + tneg,
                                events_c = cpos, n_c = cpos + cneg, stringsAsFactors = FALSE))
niel <- with(dat.nielweise2007, data.frame(study = paste(author, year), events_e = ai, n_e = n1i,
                                           events_c = ci, n_c = n2i, stringsAsFactors = FALSE))

write_fixture(bin_dataset("bcg", "Two-group binary: metadat::dat.bcg (events_e = tpos, n_e = tpos + tneg, events_c = cpos, n_c = cpos + cneg). No zero cells.",
                          "metadat::dat.bcg", bcg), "bcg")
write_fixture(bin_dataset("nielweise2007",
                          "Two-group binary with zero cells: metadat::dat.nielweise2007 (ai -> events_e, n1i -> n_e, ci -> events_c, n2i -> n_c). Five studies with a single zero cell and one double-zero study (Yucel 2004: 0/118 vs 0/105). metafor's default drop00 = FALSE keeps the double-zero study (corrected by 1/2); variant drop00 drops it (its yi/vi are null and its weight null).",
                          "metadat::dat.nielweise2007", niel, drop00_variant = TRUE), "nielweise2007")

# ---------------------------------------------------------------------------
# Two-group continuous
# ---------------------------------------------------------------------------

normand <- with(dat.normand1999, data.frame(study = as.character(source), mean_e = m1i, sd_e = sd1i, n_e = n1i,
                                            mean_c = m2i, sd_c = sd2i, n_c = n2i, stringsAsFactors = FALSE))
local({
  cases <- list()
  for (m in c("MD", "SMD", "ROM")) {
    txt <- sprintf('escalc("%s", m1i = mean_e, sd1i = sd_e, n1i = n_e, m2i = mean_c, sd2i = sd_c, n2i = n_c, data = d)', m)
    cases <- c(cases, run_all("normand1999", m, normand, txt, c("mean_e", "sd_e", "n_e", "mean_c", "sd_c", "n_c"),
                              bt = if (m == "ROM") list(transf = "exp") else NULL))
  }
  write_fixture(c(list(dataset = "normand1999",
                       description = "Two-group continuous: metadat::dat.normand1999 (m1i, sd1i, n1i -> mean_e, sd_e, n_e; m2i, sd2i, n2i -> mean_c, sd_c, n_c). SMD is metafor's Hedges' g (exact gamma-function correction, vtype = LS).",
                       source = "metadat::dat.normand1999", design = "two_group_continuous"), META,
                  list(cases = cases)), "normand1999")
})

# ---------------------------------------------------------------------------
# Single means and pre/post (seed pain at 3 months)
# ---------------------------------------------------------------------------

local({
  d <- seed_pain3
  cases <- list()
  dm <- data.frame(study = d$study, mean = d$mean_post, sd = d$sd_post, n = d$n, stringsAsFactors = FALSE)
  for (m in c("MN", "MNLN")) {
    txt <- sprintf('escalc("%s", mi = mean, sdi = sd, ni = n, data = d)', m)
    cases <- c(cases, run_all("seed_pain3", m, dm, txt, c("mean", "sd", "n"),
                              bt = if (m == "MNLN") list(transf = "exp") else NULL))
  }
  txt <- 'escalc("MD", m1i = mean_post, sd1i = sd_post, n1i = n, m2i = mean_pre, sd2i = sd_pre, n2i = n, data = d)'
  cases <- c(cases, run_all("seed_pain3", "MD", d, txt, c("mean_pre", "sd_pre", "mean_post", "sd_post", "n"),
                            options = list(design = "follow-up minus baseline as two independent groups of n")))
  write_fixture(c(list(dataset = "seed_pain3",
                       description = "Seed paper (Baal et al. 2021, Table 2): pain score at baseline and 3 months, the 18 studies with baseline mean/SD and 3-month mean/SD (509 patients). MN and MNLN on the 3-month means (mean = mean_post, sd = sd_post); MD = 3-month minus baseline treated as two independent groups of n (the paper's analysis).",
                       source = "tests/fixtures/seed_pain3.csv", design = "single_mean / pre_post_independent"), META,
                  list(cases = cases)), "seed_pain3")
})

prepost_dataset <- function(name, description, source, d) {
  cases <- list()
  cols <- c("mean_pre", "sd_pre", "mean_post", "sd_post", "n", "r")
  txts <- c(
    MC   = 'escalc("MC", m1i = mean_post, sd1i = sd_post, m2i = mean_pre, sd2i = sd_pre, ni = n, ri = r, data = d)',
    SMCC = 'escalc("SMCC", m1i = mean_post, sd1i = sd_post, m2i = mean_pre, sd2i = sd_pre, ni = n, ri = r, data = d)',
    SMCR = 'escalc("SMCR", m1i = mean_post, m2i = mean_pre, sd1i = sd_pre, ni = n, ri = r, data = d)')
  for (m in names(txts)) cases <- c(cases, run_all(name, m, d, txts[[m]], cols))
  c(list(dataset = name, description = description, source = source, design = "pre_post"), META,
    list(conventions = "MC = mean_post - mean_pre; SMCC = MC / SD of the change (sd from sd_pre, sd_post, r), bias-corrected; SMCR = MC / sd_pre (baseline SD), bias-corrected.",
         cases = cases))
}

write_fixture(prepost_dataset("seed_pain3_r05",
                              "Seed pain data at 3 months (tests/fixtures/seed_pain3.csv) with an ASSUMED pre/post correlation r = 0.5 for every study (the paper gives none); for MC/SMCC/SMCR reference values only.",
                              "tests/fixtures/seed_pain3.csv + r = 0.5 (assumed)",
                              cbind(seed_pain3, r = 0.5)), "seed_pain3_r05")

lehmann <- local({
  x <- dat.lehmann2018[dat.lehmann2018$Design == "Within Subjects", ]
  stopifnot(all(x$Red_N == x$Control_N), !anyNA(x$RM_r))
  data.frame(study = paste0(x$Short_Title, " [row ", rownames(x), "]"),
             mean_pre = x$Control_M, sd_pre = x$Control_SD,
             mean_post = x$Red_M, sd_post = x$Red_SD, n = x$Red_N, r = x$RM_r,
             stringsAsFactors = FALSE)
})
write_fixture(prepost_dataset("lehmann2018_within",
                              "Paired (within-subject) data with study-specific correlations: the 12 'Within Subjects' rows of metadat::dat.lehmann2018. The control condition is mapped to *_pre (Control_M, Control_SD), the red condition to *_post (Red_M, Red_SD), n = Red_N (= Control_N), r = RM_r. Not a pre/post design in time, but the same paired-means computation.",
                              "metadat::dat.lehmann2018 (Design == 'Within Subjects')", lehmann), "lehmann2018_within")

# ---------------------------------------------------------------------------
# Generic: yi/vi and yi/sei (dat.bcg log risk ratio)
# ---------------------------------------------------------------------------

bcg_lrr <- escalc("RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
gen_vi <- data.frame(study = bcg$study, yi = as.numeric(bcg_lrr$yi), vi = as.numeric(bcg_lrr$vi),
                     stringsAsFactors = FALSE)
gen_sei <- data.frame(study = bcg$study, yi = as.numeric(bcg_lrr$yi), sei = sqrt(as.numeric(bcg_lrr$vi)),
                      stringsAsFactors = FALSE)
write_fixture(c(list(dataset = "bcg_generic_vi",
                     description = "Generic yi/vi: log risk ratios of metadat::dat.bcg (escalc('RR', ai = tpos, bi = tneg, ci = cpos, di = cneg)).",
                     source = "metadat::dat.bcg", design = "generic"), META,
                list(cases = run_all("bcg_generic_vi", "GEN", gen_vi,
                                     'escalc(measure = "GEN", yi = yi, vi = vi, data = d)', c("yi", "vi")))),
              "bcg_generic_vi")
write_fixture(c(list(dataset = "bcg_generic_sei",
                     description = "Generic yi/sei: log risk ratios of metadat::dat.bcg with sei = sqrt(vi).",
                     source = "metadat::dat.bcg", design = "generic"), META,
                list(cases = run_all("bcg_generic_sei", "GEN", gen_sei,
                                     'escalc(measure = "GEN", yi = yi, sei = sei, data = d)', c("yi", "sei")))),
              "bcg_generic_sei")

# ---------------------------------------------------------------------------
# Degenerate cases
# ---------------------------------------------------------------------------

local({
  cases <- list()
  gen_txt <- 'escalc(measure = "GEN", yi = yi, vi = vi, data = d)'
  # k = 1: first dat.bcg study (log RR)
  cases <- c(cases, run_all("k1_bcg", "GEN", gen_vi[1, ], gen_txt, c("yi", "vi")))
  # k = 1, single proportion (seed: Namba 8/10, logit)
  cases <- c(cases, run_all("k1_seed_tr", "PLO", seed_tr[1, ],
                            'escalc("PLO", xi = events, ni = n, data = d, add = 1/2, to = "only0")',
                            c("events", "n"), bt = PROP_BT$PLO))
  # k = 2: first two dat.bcg studies (log RR)
  cases <- c(cases, run_all("k2_bcg", "GEN", gen_vi[1:2, ], gen_txt, c("yi", "vi")))
  # homogeneous data (Q < k - 1): tau2 estimates at the boundary 0
  homog <- data.frame(study = paste0("S", 1:5), yi = c(0.10, 0.12, 0.08, 0.11, 0.09),
                      vi = c(0.010, 0.020, 0.015, 0.012, 0.030), stringsAsFactors = FALSE)
  cases <- c(cases, run_all("homogeneous", "GEN", homog, gen_txt, c("yi", "vi")))
  # identical estimates (Q = 0 exactly; Knapp-Hartung scale factor s2w = 0 in metafor)
  ident <- data.frame(study = paste0("S", 1:4), yi = rep(0.3, 4), vi = c(0.01, 0.02, 0.04, 0.05),
                      stringsAsFactors = FALSE)
  cases <- c(cases, run_all("identical", "GEN", ident, gen_txt, c("yi", "vi")))
  write_fixture(c(list(dataset = "degenerate",
                       description = "Degenerate cases: k = 1 (metafor sets tau2 = 0, Q = 0, Q p = 1, I2 = 0, H2 = 1 for every estimator; confint() stops), k = 2, homogeneous data with tau2 at 0, identical estimates (Q = 0).",
                       source = "metadat::dat.bcg, seed, constructed", design = "mixed"), META,
                  list(cases = cases)), "degenerate")
})

cat("done\n")
