# Reference values for metareview's likelihood and fixed-cell methods, computed with
# R metafor (rma.glmm through lme4, rma.mh, rma.peto, escalc).
#
# Run from the repository root:
#     Rscript tests/r/make_reference_glmm.R
#
# Writes tests/fixtures/glmm/{glmm_plo,glmm_irln,rates,mh,peto,mh_degenerate,missing,presets}.json.  Every number is
# written at full precision (jsonlite digits = NA); NA becomes null.
#
# GLMM fits are recorded twice: with rma.glmm's default optimiser settings (what meta
# and metafor users see; lme4 stops about 1e-5 short of the maximum) and with a tight
# bobyqa tolerance passed through rma.glmm's control = list(glmerCtrl = ...), which
# shows where the maximum of lme4's own approximation lies.
#
# meta is not installed; where meta 4.9-6 and metafor differ (Mantel-Haenszel with
# zero cells) the meta convention is reproduced with rma.mh's own options
# (add/to/drop00 for the MH tables), and meta's study-level RR and RD formulas
# (Hartung & Knapp 2001; Greenland & Robins 1985) are written out below.

suppressPackageStartupMessages({
  library(metafor)
  library(metadat)
  library(lme4)
  library(jsonlite)
})

OUT_DIR <- file.path("tests", "fixtures", "glmm")
dir.create(OUT_DIR, recursive = TRUE, showWarnings = FALSE)

TIGHT <- list(glmerCtrl = list(optimizer = "bobyqa",
                               optCtrl = list(rhoend = 1e-10, maxfun = 1e5)))
TIGHT_TEXT <- 'list(glmerCtrl = list(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-10, maxfun = 1e5)))'

META <- list(
  r_version = R.version.string,
  metafor_version = as.character(packageVersion("metafor")),
  metadat_version = as.character(packageVersion("metadat")),
  lme4_version = as.character(packageVersion("lme4")),
  jsonlite_version = as.character(packageVersion("jsonlite")),
  tight_control = TIGHT_TEXT,
  level = 95
)

write_fixture <- function(x, name) {
  write_json(c(list(meta = META), x), file.path(OUT_DIR, name),
             digits = NA, auto_unbox = TRUE, pretty = TRUE, na = "null")
}

num <- function(x) as.numeric(x)

# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------

# Seed paper (Baal et al. 2021, Table 2): treatment response, events / n
seed_x <- c(8, 26, 26, 6, 109, 14, 13, 16, 6, 22, 7, 72, 16, 32, 63, 8, 16, 13, 18, 11)
seed_n <- c(10, 31, 30, 9, 140, 17, 18, 21, 6, 23, 11, 112, 22, 32, 72, 11, 18, 17, 25, 11)

PROPS <- list(
  seed_tr = list(x = seed_x, n = seed_n,
                 source = "Baal et al. 2021, Table 2, treatment response"),
  pritz1997 = list(x = dat.pritz1997$xi, n = dat.pritz1997$ni,
                   source = "metadat::dat.pritz1997 (xi, ni)"),
  nielweise2007_e = list(x = dat.nielweise2007$ai, n = dat.nielweise2007$n1i,
                         source = "metadat::dat.nielweise2007 (ai, n1i): rare events, 5 of 18 zero")
)

RATES <- list(
  hart1999 = list(x = dat.hart1999$x1i, t = dat.hart1999$t1i,
                  source = "metadat::dat.hart1999 (x1i, t1i)"),
  nielweise2008 = list(x = dat.nielweise2008$x1i, t = dat.nielweise2008$t1i,
                       source = "metadat::dat.nielweise2008 (x1i, t1i)"),
  rare = list(x = c(0, 3, 1, 0, 5, 2, 0, 1), t = c(120, 340, 95, 410, 600, 250, 80, 133),
              source = "constructed: rare events with zero counts")
)

TABLES <- list(
  bcg = with(dat.bcg, list(ai = tpos, n1i = tpos + tneg, ci = cpos, n2i = cpos + cneg,
                           source = "metadat::dat.bcg")),
  nielweise2007 = with(dat.nielweise2007, list(ai = ai, n1i = n1i, ci = ci, n2i = n2i,
                                               source = "metadat::dat.nielweise2007 (zero cells, one double-zero table)")),
  li2007 = with(dat.li2007, list(ai = ai, n1i = n1i, ci = ci, n2i = n2i,
                                 source = "metadat::dat.li2007 (zero cells)")),
  egger2001 = with(dat.egger2001, list(ai = ai, n1i = n1i, ci = ci, n2i = n2i, study = study,
                                       source = "metadat::dat.egger2001 (magnesium trials, one zero cell)"))
)

# ---------------------------------------------------------------------------
# GLMM
# ---------------------------------------------------------------------------

glmm_record <- function(fit, call) {
  pr <- predict(fit)
  list(
    call = call,
    beta = num(fit$beta), se = num(fit$se), ci_lb = num(fit$ci.lb), ci_ub = num(fit$ci.ub),
    zval = num(fit$zval), pval = num(fit$pval), tau2 = num(fit$tau2),
    QE_Wld = num(fit$QE.Wld), QEp_Wld = num(fit$QEp.Wld),
    QE_LRT = num(fit$QE.LRT), QEp_LRT = num(fit$QEp.LRT), QE_df = num(fit$QE.df),
    I2 = num(fit$I2), H2 = num(fit$H2),
    pi_lb = if (is.null(pr$pi.lb)) NA else num(pr$pi.lb),
    pi_ub = if (is.null(pr$pi.ub)) NA else num(pr$pi.ub),
    k = fit$k
  )
}

fit_glmm <- function(measure, args, method, nAGQ, tight) {
  cl <- c(list(measure = measure, method = method, nAGQ = nAGQ), args)
  if (tight) cl$control <- TIGHT
  suppressWarnings(do.call(rma.glmm, cl))
}

glmm_cases <- function(measure, data, argnames) {
  out <- list()
  for (name in names(data)) {
    d <- data[[name]]
    args <- if (measure == "PLO") list(xi = d$x, ni = d$n) else list(xi = d$x, ti = d$t)
    fits <- list()
    fits$CE <- glmm_record(fit_glmm(measure, args, "FE", 7, FALSE),
                           sprintf('rma.glmm(measure = "%s", %s, method = "FE")', measure, argnames))
    for (q in c(7, 1)) {
      fits[[sprintf("ML_nAGQ%d_default", q)]] <- glmm_record(
        fit_glmm(measure, args, "ML", q, FALSE),
        sprintf('rma.glmm(measure = "%s", %s, nAGQ = %d)', measure, argnames, q))
    }
    for (q in c(7, 1, 3, 11)) {
      fits[[sprintf("ML_nAGQ%d_tight", q)]] <- glmm_record(
        fit_glmm(measure, args, "ML", q, TRUE),
        sprintf('rma.glmm(measure = "%s", %s, nAGQ = %d, control = %s)', measure, argnames,
                q, TIGHT_TEXT))
    }
    out[[name]] <- c(d, list(fits = fits))
  }
  out
}

write_fixture(list(datasets = glmm_cases("PLO", PROPS, "xi = x, ni = n")), "glmm_plo.json")
write_fixture(list(datasets = glmm_cases("IRLN", RATES, "xi = x, ti = t")), "glmm_irln.json")

# ---------------------------------------------------------------------------
# Single incidence rates (escalc defaults: add = 1/2, to = "only0"; no add for IRS, IRFT)
# ---------------------------------------------------------------------------

rates <- list()
for (name in names(RATES)) {
  d <- RATES[[name]]
  m <- list()
  for (measure in c("IR", "IRLN", "IRS", "IRFT")) {
    es <- escalc(measure = measure, xi = d$x, ti = d$t)
    m[[measure]] <- list(yi = num(es$yi), vi = num(es$vi),
                         call = sprintf('escalc(measure = "%s", xi = x, ti = t)', measure))
  }
  # back-transformations of a few values with metafor's transf functions
  tt <- 1 / mean(1 / d$t)
  zs <- c(-0.1, 0, 0.01, 0.05, 0.2)
  m$back <- list(z = zs, harmonic_t = tt,
                 isqrt = transf.isqrt(zs), iirft = transf.iirft(zs, tt), exp = exp(zs))
  rates[[name]] <- c(d, list(measures = m))
}
write_fixture(list(datasets = rates), "rates.json")

# ---------------------------------------------------------------------------
# Mantel-Haenszel and Peto
# ---------------------------------------------------------------------------

mh_record <- function(fit, call) {
  list(call = call, beta = num(fit$beta), se = num(fit$se), ci_lb = num(fit$ci.lb),
       ci_ub = num(fit$ci.ub), zval = num(fit$zval), pval = num(fit$pval),
       QE = num(fit$QE), QEp = num(fit$QEp), I2 = num(fit$I2), H2 = num(fit$H2),
       k = fit$k, k_yi = fit$k.yi)
}

# meta 4.9-6's study-level estimates (metabin, RR.cochrane = FALSE): 0.5 added to tables
# with a zero cell; tables without events in either group dropped for the RR, none for the RD
meta_study <- function(d, measure, incr = 0.5) {
  d <- lapply(d[c("ai", "n1i", "ci", "n2i")], as.numeric)  # no integer overflow
  a <- d$ai; b <- d$n1i - d$ai; c <- d$ci; dd <- d$n2i - d$ci
  n1 <- d$n1i; n2 <- d$n2i
  zero <- a == 0 | b == 0 | c == 0 | dd == 0
  i <- ifelse(zero, incr, 0)
  if (measure == "RR") {
    allev <- a == n1 & c == n2
    yi <- log((a + i) / (n1 + i)) - log((c + i) / (n2 + i))
    vi <- 1 / (a + i * !allev) - 1 / (n1 + i) + 1 / (c + i * !allev) - 1 / (n2 + i)
    keep <- !(a == 0 & c == 0)
  } else {
    yi <- a / n1 - c / n2
    vi <- (a + i) * (b + i) / (n1 + 2 * i)^3 + (c + i) * (dd + i) / (n2 + 2 * i)^3
    keep <- rep(TRUE, length(a))  # meta keeps every table for the RD
  }
  list(yi = ifelse(keep, yi, NA), vi = ifelse(keep, vi, NA))
}

# meta 4.9-6's MH risk difference: weights n1 n2 / N, study differences without the
# correction, Greenland-Robins (1985) variance from cells with the correction
meta_mh_rd <- function(d, incr = 0.5) {
  d <- lapply(d[c("ai", "n1i", "ci", "n2i")], as.numeric)  # no integer overflow
  a <- d$ai; b <- d$n1i - d$ai; c <- d$ci; dd <- d$n2i - d$ci
  n1 <- d$n1i; n2 <- d$n2i; N <- n1 + n2
  zero <- a == 0 | b == 0 | c == 0 | dd == 0
  i <- ifelse(zero, incr, 0)
  S <- n1 * n2 / N
  est <- sum(S * (a / n1 - c / n2)) / sum(S)
  R <- ((a + i) * (b + i) * (n2 + 2 * i)^3 + (c + i) * (dd + i) * (n1 + 2 * i)^3) /
    ((n1 + 2 * i) * (n2 + 2 * i) * (N + 4 * i)^2)
  list(beta = est, se = sqrt(sum(R) / sum(S)^2))
}

q_about <- function(yi, vi, est) {
  ok <- !is.na(yi) & !is.na(vi)
  Q <- sum((yi[ok] - est)^2 / vi[ok])
  df <- sum(ok) - 1
  list(QE = Q, df = df, QEp = pchisq(Q, df, lower.tail = FALSE),
       I2 = max(0, 100 * (Q - df) / Q), H2 = Q / df)
}

mh <- list()
peto <- list()
for (name in names(TABLES)) {
  d <- TABLES[[name]]
  fits <- list()
  for (measure in c("OR", "RR", "RD")) {
    f0 <- rma.mh(measure = measure, ai = d$ai, n1i = d$n1i, ci = d$ci, n2i = d$n2i)
    fits[[paste0(measure, "_metafor")]] <- mh_record(
      f0, sprintf('rma.mh(measure = "%s", ai, n1i, ci, n2i)', measure))
    f1 <- rma.mh(measure = measure, ai = d$ai, n1i = d$n1i, ci = d$ci, n2i = d$n2i,
                 add = c(1/2, 1/2), to = c("only0", "only0"))
    fits[[paste0(measure, "_metafor_corrected")]] <- mh_record(
      f1, sprintf('rma.mh(measure = "%s", ai, n1i, ci, n2i, add = c(1/2, 1/2), to = c("only0", "only0"))', measure))
    if (measure != "RD") {
      # meta 4.9-6: correction in the MH tables, non-informative tables dropped
      f2 <- rma.mh(measure = measure, ai = d$ai, n1i = d$n1i, ci = d$ci, n2i = d$n2i,
                   add = c(1/2, 1/2), to = c("only0", "only0"), drop00 = c(TRUE, TRUE))
      rec <- mh_record(f2, sprintf('rma.mh(measure = "%s", ai, n1i, ci, n2i, add = c(1/2, 1/2), to = c("only0", "only0"), drop00 = c(TRUE, TRUE))', measure))
    } else {
      rec <- meta_mh_rd(d)
      rec$call <- "meta 4.9-6 MH risk difference formulas (see meta_mh_rd in this script)"
    }
    if (measure != "OR") {
      st <- meta_study(d, measure)
      hq <- q_about(st$yi, st$vi, rec$beta)
      rec$QE <- hq$QE; rec$QEp <- hq$QEp; rec$QE_df <- hq$df; rec$I2 <- hq$I2; rec$H2 <- hq$H2
      rec$study_yi <- st$yi; rec$study_vi <- st$vi
    }
    fits[[paste0(measure, "_meta")]] <- rec
  }
  mh[[name]] <- c(d, list(fits = fits))
  fp <- rma.peto(ai = d$ai, n1i = d$n1i, ci = d$ci, n2i = d$n2i)
  es <- escalc(measure = "PETO", ai = d$ai, n1i = d$n1i, ci = d$ci, n2i = d$n2i, drop00 = TRUE)
  peto[[name]] <- c(d, list(fit = mh_record(fp, "rma.peto(ai, n1i, ci, n2i)"),
                            escalc_yi = num(es$yi), escalc_vi = num(es$vi)))
}
write_fixture(list(datasets = mh), "mh.json")
write_fixture(list(datasets = peto), "peto.json")

# ---------------------------------------------------------------------------
# Mantel-Haenszel with zero variance: no events in any table (or events only)
# ---------------------------------------------------------------------------

# rma.mh returns the estimate with se = 0 (z and p NaN, the interval collapsed onto the
# estimate) where the MH variance is zero, and NA where the MH ratio is 0/0
ZERO_VAR <- list(
  no_events = list(ai = c(0, 0, 0), n1i = c(10, 20, 15), ci = c(0, 0, 0), n2i = c(10, 22, 14)),
  all_events = list(ai = c(10, 20, 15), n1i = c(10, 20, 15), ci = c(10, 22, 14), n2i = c(10, 22, 14)),
  sure_thing = list(ai = c(10, 20), n1i = c(10, 20), ci = c(0, 0), n2i = c(12, 9))
)
zero_var <- list()
for (name in names(ZERO_VAR)) {
  d <- ZERO_VAR[[name]]
  fits <- list()
  for (measure in c("OR", "RR", "RD")) {
    f <- suppressWarnings(rma.mh(measure = measure, ai = d$ai, n1i = d$n1i, ci = d$ci, n2i = d$n2i))
    rec <- mh_record(f, sprintf('rma.mh(measure = "%s", ai, n1i, ci, n2i)', measure))
    rec$se_is_zero <- isTRUE(num(f$se) == 0)
    rec$beta_is_na <- is.na(f$beta[1])
    fits[[measure]] <- rec
  }
  zero_var[[name]] <- c(d, list(fits = fits))
}
write_fixture(list(datasets = zero_var), "mh_degenerate.json")

# ---------------------------------------------------------------------------
# A study with a missing cell: kept (yi = NA), not pooled (na.action = "na.omit")
# ---------------------------------------------------------------------------

rma_record <- function(fit, call) {
  rec <- mh_record(fit, call)
  rec$k_yi <- NULL
  c(rec, list(tau2 = num(fit$tau2), k_all = fit$k.all, not_na = as.logical(fit$not.na)))
}
missing <- list()
# metafor's fitting functions take na.action from options() (no argument): na.omit
# leaves a study with a missing value out of the fit and keeps it in escalc's table
options(na.action = "na.omit")
d <- dat.bcg
d$tpos[3] <- NA                       # Rosenthal et al.: events in the vaccinated group missing
es <- escalc(measure = "OR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = d)
f <- rma(yi, vi, data = es, method = "DL")
missing$bcg_or <- list(
  study = paste(d$author, d$year), ai = d$tpos, n1i = d$tpos + d$tneg, ci = d$cpos,
  n2i = d$cpos + d$cneg, yi = as.numeric(es$yi), vi = as.numeric(es$vi),
  missing_study = 3, missing_column = "events_e",
  fit = rma_record(f, 'rma(yi, vi, data = escalc("OR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = d), method = "DL") with options(na.action = "na.omit")'))
fm <- suppressWarnings(rma.mh(measure = "OR", ai = d$tpos, n1i = d$tpos + d$tneg, ci = d$cpos,
                              n2i = d$cpos + d$cneg))
missing$bcg_or$fit_mh <- mh_record(fm, 'rma.mh(measure = "OR", ai, n1i, ci, n2i) (studies with NAs omitted)')
p <- PROPS$seed_tr
n <- p$n
n[5] <- NA                            # a proportion study without its sample size
es <- escalc(measure = "PLO", xi = p$x, ni = n)
f <- rma(yi, vi, data = es, method = "DL")
missing$seed_plo <- list(x = p$x, n = n, yi = as.numeric(es$yi), vi = as.numeric(es$vi),
                         missing_study = 5, missing_column = "n",
                         fit = rma_record(f, 'rma(yi, vi, data = escalc("PLO", xi = x, ni = n), method = "DL") with options(na.action = "na.omit")'))
write_fixture(list(datasets = missing), "missing.json")

# ---------------------------------------------------------------------------
# Settings presets: R meta 8's prediction interval (t with k - 1 df) and RR.Cochrane
# ---------------------------------------------------------------------------

# meta 8 (method.predict = "V") predicts with t on k - 1 df and the Wald standard error:
# metafor's predict() of a model fitted with test = "t" (which changes the quantile only)
p <- PROPS$seed_tr
es <- escalc(measure = "PLO", xi = p$x, ni = p$n)
TIGHT_RMA <- list(threshold = 1e-12, maxiter = 10000)
fit_reml <- rma(yi, vi, data = es, method = "REML", test = "t", control = TIGHT_RMA)
pr <- predict(fit_reml)
fit_z <- rma(yi, vi, data = es, method = "REML", control = TIGHT_RMA)
# RR.Cochrane = TRUE (RevMan 5): zero-cell studies' RR with n + 2 incr, as escalc does
d <- TABLES$nielweise2007
rr <- escalc(measure = "RR", ai = d$ai, n1i = d$n1i, ci = d$ci, n2i = d$n2i, add = 1/2, to = "only0",
             drop00 = TRUE)
presets <- list(
  seed_tr_meta8 = list(x = p$x, n = p$n,
                       call = 'predict(rma(yi, vi, data = escalc("PLO", xi = x, ni = n), method = "REML", test = "t", control = list(threshold = 1e-12)))',
                       beta = num(fit_z$beta), se = num(fit_z$se), tau2 = num(fit_z$tau2),
                       pi_lb = num(pr$pi.lb), pi_ub = num(pr$pi.ub)),
  nielweise2007_rr_cochrane = list(
    call = 'escalc(measure = "RR", ai, n1i, ci, n2i, add = 1/2, to = "only0", drop00 = TRUE)',
    ai = d$ai, n1i = d$n1i, ci = d$ci, n2i = d$n2i, yi = as.numeric(rr$yi), vi = as.numeric(rr$vi))
)
write_fixture(list(datasets = presets), "presets.json")

cat("fixtures written to", OUT_DIR, "\n")
