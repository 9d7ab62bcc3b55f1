# Reference values for metafor's everyday toolkit beyond the core: the correlation,
# partial-correlation, heteroscedastic-SMD, variability-ratio, paired ratio-of-means and
# two-group incidence-rate measures; the tau² estimators PMM, HSk, DLIT, SJIT and GENQ;
# fit statistics, the standard error of tau², profile-likelihood intervals of tau² and
# BLUPs; fail-safe N; Mantel-Haenszel pooling of incidence rates and the
# Cochran-Mantel-Haenszel and Tarone tests.
#
# Run from the repository root (metafor 3.8-1, metadat, jsonlite, gsl for UCOR):
#     Rscript tests/r/make_reference_toolkit.R
#
# Writes tests/fixtures/toolkit/{measures,estimators,statistics,fsn,mh}.json.  Every case
# keeps the R calls that produced it in `r_call`.

suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

OUT_DIR <- file.path("tests", "fixtures", "toolkit")
dir.create(OUT_DIR, recursive = TRUE, showWarnings = FALSE)

CONTROL <- list(threshold = 1e-12, maxiter = 10000, tol = 1e-12, tau2.max = 1e6)
CONTROL_TEXT <- "list(threshold = 1e-12, maxiter = 10000, tol = 1e-12, tau2.max = 1e6)"

META <- list(r_version = R.version.string,
             metafor_version = as.character(packageVersion("metafor")),
             metadat_version = as.character(packageVersion("metadat")),
             jsonlite_version = as.character(packageVersion("jsonlite")),
             control = CONTROL)

arr <- function(x) { x <- as.numeric(x); x[!is.finite(x)] <- NA_real_; I(x) }
num <- function(x) { if (is.null(x) || length(x) == 0) return(NA_real_); x <- as.numeric(x)[1]
                      if (!is.finite(x)) NA_real_ else x }
ev <- function(txt, env) eval(parse(text = txt), envir = env)

write_fixture <- function(cases, name, description) {
  obj <- c(list(file = name, description = description), META, list(cases = cases))
  path <- file.path(OUT_DIR, paste0(name, ".json"))
  writeLines(toJSON(obj, digits = NA, auto_unbox = TRUE, na = "null", null = "null", pretty = TRUE), path)
  cat(sprintf("wrote %s (%d cases)\n", path, length(cases)))
}

fit_summary <- function(fit) {
  list(estimate = num(fit$beta), se = num(fit$se), ci_low = num(fit$ci.lb), ci_high = num(fit$ci.ub),
       statistic = num(fit$zval), p = num(fit$pval), tau2 = num(fit$tau2), se_tau2 = num(fit$se.tau2),
       q = num(fit$QE), q_p = num(fit$QEp), i2 = num(fit$I2), h2 = num(fit$H2), k = fit$k)
}

# ---------------------------------------------------------------------------
# Effect-size measures (escalc) and a DL and REML fit of each
# ---------------------------------------------------------------------------

molloy <- with(dat.molloy2014, data.frame(study = paste(authors, year), cor = ri, n = ni))
aloe <- with(dat.aloe2013, data.frame(study = as.character(study), tstat = tval, n = n, predictors = preds, r2 = R2))
normand <- with(dat.normand1999, data.frame(study = as.character(source), mean_e = m1i, sd_e = sd1i, n_e = n1i,
                                            mean_c = m2i, sd_c = sd2i, n_c = n2i))
seed <- read.csv(file.path("tests", "fixtures", "seed_pain3.csv"))
seed$study <- as.character(seed$study)
seed$r <- 0.5
lehmann <- local({
  x <- dat.lehmann2018[dat.lehmann2018$Design == "Within Subjects", ]
  data.frame(study = as.character(x$Short_Title), mean_pre = x$Control_M, sd_pre = x$Control_SD,
             mean_post = x$Red_M, sd_post = x$Red_SD, n = x$Red_N, r = x$RM_r)
})
hart <- with(dat.hart1999, data.frame(study = as.character(study), events_e = x1i, time_e = t1i,
                                      events_c = x2i, time_c = t2i))
nielweise <- with(dat.nielweise2008, data.frame(study = as.character(authors), events_e = x1i, time_e = t1i,
                                                events_c = x2i, time_c = t2i))
# zero counts in single arms, to exercise the increment (add = 1/2, to = "only0")
ratezero <- data.frame(study = c("A", "B", "C", "D"), events_e = c(0, 3, 5, 12), time_e = c(120, 95, 300, 410),
                       events_c = c(2, 0, 9, 20), time_c = c(115, 100, 280, 400))

ESC <- list(
  cor = 'escalc("%s", ri = cor, ni = n, data = d)',
  pcor = 'escalc("%s", ti = tstat, ni = n, mi = predictors, r2i = r2, data = d)',
  cont2 = 'escalc("%s", m1i = mean_e, sd1i = sd_e, n1i = n_e, m2i = mean_c, sd2i = sd_c, n2i = n_c, data = d)',
  romc = 'escalc("%s", m1i = mean_post, sd1i = sd_post, m2i = mean_pre, sd2i = sd_pre, ni = n, ri = r, data = d)',
  smcrh = 'escalc("%s", m1i = mean_post, m2i = mean_pre, sd1i = sd_pre, sd2i = sd_post, ni = n, ri = r, data = d)',
  rate2 = 'escalc("%s", x1i = events_e, t1i = time_e, x2i = events_c, t2i = time_c, data = d)')

TRANSF <- list(ZCOR = "transf.ztor", ZPCOR = "transf.ztor", CVR = "exp", VR = "exp", ROMC = "exp", IRR = "exp")

measure_case <- function(dataset, d, measure, esc_key) {
  env <- new.env()
  assign("d", d, envir = env)
  esc_text <- sprintf(ESC[[esc_key]], measure)
  es <- ev(esc_text, env)
  assign("es", es, envir = env)
  cols <- setdiff(names(d), "study")
  out <- list(case = paste(dataset, measure, sep = "_"), dataset = dataset, measure = measure,
              r_call = paste0("es <- ", esc_text),
              input = c(list(study = I(d$study)), lapply(d[cols], arr)),
              escalc = list(yi = arr(es$yi), vi = arr(es$vi)), fits = list())
  for (method in c("DL", "REML")) {
    fit_text <- sprintf('rma(yi, vi, data = es, method = "%s", control = %s)', method, CONTROL_TEXT)
    fit <- ev(fit_text, env)
    if (method == "REML" && fit$tau2 > 0 && fit$tau2 < 1e-3) {
      # threshold is an absolute change in tau²: tighten it for a small tau²
      assign("fit0", fit, envir = env)
      fit_text <- paste0("fit0 <- ", fit_text, "; ", sprintf(
        'rma(yi, vi, data = es, method = "REML", control = list(threshold = 1e-12 * fit0$tau2, maxiter = 10000))'))
      fit <- ev('rma(yi, vi, data = es, method = "REML", control = list(threshold = 1e-12 * fit0$tau2, maxiter = 10000))', env)
    }
    assign("fit", fit, envir = env)
    s <- fit_summary(fit)
    s$r_call <- fit_text
    if (!is.null(TRANSF[[measure]])) {
      bt_text <- sprintf("predict(fit, transf = %s)", TRANSF[[measure]])
      pb <- ev(bt_text, env)
      s$backtransformed <- list(r_call = bt_text, estimate = num(pb$pred), ci_low = num(pb$ci.lb),
                                ci_high = num(pb$ci.ub))
    }
    out$fits[[method]] <- s
  }
  out
}

measures <- list(
  measure_case("molloy2014", molloy, "COR", "cor"),
  measure_case("molloy2014", molloy, "UCOR", "cor"),
  measure_case("molloy2014", molloy, "ZCOR", "cor"),
  measure_case("aloe2013", aloe, "PCOR", "pcor"),
  measure_case("aloe2013", aloe, "ZPCOR", "pcor"),
  measure_case("aloe2013", aloe, "SPCOR", "pcor"),
  measure_case("normand1999", normand, "SMDH", "cont2"),
  measure_case("normand1999", normand, "CVR", "cont2"),
  measure_case("normand1999", normand, "VR", "cont2"),
  measure_case("seed_pain3_r05", seed, "ROMC", "romc"),
  measure_case("seed_pain3_r05", seed, "SMCRH", "smcrh"),
  measure_case("lehmann2018_within", lehmann, "ROMC", "romc"),
  measure_case("lehmann2018_within", lehmann, "SMCRH", "smcrh"),
  measure_case("hart1999", hart, "IRR", "rate2"),
  measure_case("hart1999", hart, "IRD", "rate2"),
  measure_case("hart1999", hart, "IRSD", "rate2"),
  measure_case("nielweise2008", nielweise, "IRR", "rate2"),
  measure_case("nielweise2008", nielweise, "IRD", "rate2"),
  measure_case("nielweise2008", nielweise, "IRSD", "rate2"),
  measure_case("ratezero", ratezero, "IRR", "rate2"),
  measure_case("ratezero", ratezero, "IRD", "rate2"),
  measure_case("ratezero", ratezero, "IRSD", "rate2"))
write_fixture(measures, "measures", "escalc() of each new measure, with rma() by DL and REML and predict(transf).")

# ---------------------------------------------------------------------------
# tau² estimators PMM, HSk, DLIT, SJIT, GENQ
# ---------------------------------------------------------------------------

bcg <- escalc("RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
bcg$n <- with(dat.bcg, tpos + tneg + cpos + cneg)
smd <- escalc("SMD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i, data = dat.normand1999)
smd$n <- with(dat.normand1999, n1i + n2i)
zcor <- escalc("ZCOR", ri = ri, ni = ni, data = dat.molloy2014)
zcor$n <- dat.molloy2014$ni
homog <- data.frame(yi = c(0.10, 0.12, 0.09, 0.11, 0.10), vi = c(0.04, 0.05, 0.03, 0.06, 0.05),
                    n = c(100, 80, 130, 70, 80))
EST_DATA <- list(
  bcg_rr = list(d = bcg, make = 'escalc("RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg); n = tpos + tneg + cpos + cneg'),
  normand1999_smd = list(d = smd, make = 'escalc("SMD", m1i, sd1i, n1i, m2i, sd2i, n2i, data = dat.normand1999); n = n1i + n2i'),
  molloy2014_zcor = list(d = zcor, make = 'escalc("ZCOR", ri = ri, ni = ni, data = dat.molloy2014); n = ni'),
  homogeneous = list(d = homog, make = "data.frame(yi = c(0.10, 0.12, 0.09, 0.11, 0.10), vi = c(0.04, 0.05, 0.03, 0.06, 0.05), n = c(100, 80, 130, 70, 80))"))

estimators <- list()
for (nm in names(EST_DATA)) {
  d <- EST_DATA[[nm]]$d
  for (method in c("PMM", "HSk", "DLIT", "SJIT", "GENQ")) {
    if (method == "GENQ") {
      fit_text <- sprintf('rma(yi, vi, weights = n, data = d, method = "GENQ", control = %s)', CONTROL_TEXT)
    } else {
      fit_text <- sprintf('rma(yi, vi, data = d, method = "%s", control = %s)', method, CONTROL_TEXT)
    }
    fit <- eval(parse(text = fit_text))
    s <- fit_summary(fit)
    # the same tau² with inverse-variance weights 1/(vi + tau²) for the estimate
    iv_text <- "rma(yi, vi, data = d, tau2 = fit$tau2)"
    iv <- eval(parse(text = iv_text))
    estimators[[length(estimators) + 1]] <- list(
      case = paste(nm, method, sep = "_"), dataset = nm, method = method,
      r_call = paste0("d <- ", EST_DATA[[nm]]$make, "; fit <- ", fit_text),
      input = list(yi = arr(d$yi), vi = arr(d$vi), n = arr(d$n)),
      fit = s,
      iv_fit = c(fit_summary(iv), list(r_call = iv_text)))
  }
}
write_fixture(estimators, "estimators", "rma.uni with the tau² estimators PMM, HSk, DLIT, SJIT and GENQ (weights = n).")

# ---------------------------------------------------------------------------
# Fit statistics, se(tau²), profile-likelihood CI of tau², BLUPs (ML and REML)
# ---------------------------------------------------------------------------

statistics <- list()
STAT_FITS <- list(ML = 'method = "ML"', REML = 'method = "REML"', REML_knha = 'method = "REML", test = "knha"')
for (nm in c("bcg_rr", "normand1999_smd", "molloy2014_zcor", "homogeneous")) {
  d <- EST_DATA[[nm]]$d
  for (variant in names(STAT_FITS)) {
    if (variant == "REML_knha" && nm != "bcg_rr") next
    method <- sub("_.*", "", variant)
    fit_text <- sprintf('rma(yi, vi, data = d, %s, control = %s)', STAT_FITS[[variant]], CONTROL_TEXT)
    fit <- eval(parse(text = fit_text))
    fs <- fitstats(fit)
    fs_text <- "fitstats(fit)"
    pl_text <- "confint(fit, type = \"PL\", control = list(tol = 1e-12, maxiter = 10000))"
    pl <- tryCatch(eval(parse(text = pl_text)), error = function(e) NULL)
    wald <- confint(fit, type = "Wald")
    b <- blup(fit)
    r <- ranef(fit)
    statistics[[length(statistics) + 1]] <- list(
      case = paste(nm, variant, sep = "_"), dataset = nm, method = method,
      test = if (grepl("knha", variant)) "knha" else "z",
      r_call = paste0("d <- ", EST_DATA[[nm]]$make, "; fit <- ", fit_text, "; ", fs_text, "; fit$se.tau2; ",
                      pl_text, "; confint(fit, type = \"Wald\"); blup(fit); ranef(fit)"),
      input = list(yi = arr(d$yi), vi = arr(d$vi)),
      fit = fit_summary(fit),
      fitstats = list(loglik = num(fs[1]), deviance = num(fs[2]), aic = num(fs[3]), bic = num(fs[4]),
                      aicc = num(fs[5])),
      pl = if (is.null(pl)) NA else list(tau2_ci_low = num(pl$random["tau^2", "ci.lb"]),
                                         tau2_ci_high = num(pl$random["tau^2", "ci.ub"]),
                                         lb_sign = pl$lb.sign, ub_sign = pl$ub.sign),
      wald = list(tau2_ci_low = num(wald$random["tau^2", "ci.lb"]), tau2_ci_high = num(wald$random["tau^2", "ci.ub"])),
      blup = list(pred = arr(b$pred), se = arr(b$se), pi_low = arr(b$pi.lb), pi_high = arr(b$pi.ub)),
      ranef = list(pred = arr(r$pred), se = arr(r$se), pi_low = arr(r$pi.lb), pi_high = arr(r$pi.ub)))
  }
}
write_fixture(statistics, "statistics", "fitstats(), se.tau2, confint(type = 'PL'), blup() and ranef() for ML and REML fits.")

# ---------------------------------------------------------------------------
# Fail-safe N
# ---------------------------------------------------------------------------

fsn_cases <- list()
for (nm in c("bcg_rr", "normand1999_smd", "molloy2014_zcor")) {
  d <- EST_DATA[[nm]]$d
  variants <- list(Rosenthal = 'fsn(yi, vi, data = d, type = "Rosenthal")',
                   Orwin = 'fsn(yi, vi, data = d, type = "Orwin")',
                   Rosenberg = 'fsn(yi, vi, data = d, type = "Rosenberg")',
                   Rosenthal_alpha01 = 'fsn(yi, vi, data = d, type = "Rosenthal", alpha = 0.01)',
                   Rosenberg_alpha01 = 'fsn(yi, vi, data = d, type = "Rosenberg", alpha = 0.01)',
                   Orwin_weighted_target = 'fsn(yi, vi, data = d, type = "Orwin", weighted = TRUE, target = 0.05)')
  for (variant in names(variants)) {
    txt <- variants[[variant]]
    type <- sub("_.*", "", variant)
    f <- eval(parse(text = txt))
    fsn_cases[[length(fsn_cases) + 1]] <- list(
      case = paste(nm, variant, sep = "_"), dataset = nm, type = type,
      options = list(alpha = if (grepl("alpha01", variant)) 0.01 else 0.05,
                     weighted = grepl("weighted", variant), target = if (grepl("target", variant)) 0.05 else NA),
      r_call = paste0("d <- ", EST_DATA[[nm]]$make, "; ", txt),
      input = list(yi = arr(d$yi), vi = arr(d$vi)),
      fsnum = num(f$fsnum), alpha = num(f$alpha), pval = num(f$pval), meanes = num(f$meanes),
      target = num(f$target))
  }
}
write_fixture(fsn_cases, "fsn", "fsn() by the Rosenthal, Orwin and Rosenberg approaches.")

# ---------------------------------------------------------------------------
# Mantel-Haenszel: incidence rates, and the CMH and Tarone tests for 2x2 tables
# ---------------------------------------------------------------------------

mh_cases <- list()
for (nm in c("hart1999", "nielweise2008", "ratezero")) {
  d <- get(if (nm == "hart1999") "hart" else if (nm == "nielweise2008") "nielweise" else "ratezero")
  for (measure in c("IRR", "IRD")) {
    txt <- sprintf('rma.mh(x1i = events_e, t1i = time_e, x2i = events_c, t2i = time_c, data = d, measure = "%s")',
                   measure)
    m <- eval(parse(text = txt))
    mh_cases[[length(mh_cases) + 1]] <- list(
      case = paste(nm, measure, "MH", sep = "_"), dataset = nm, measure = measure, r_call = txt,
      input = c(list(study = I(d$study)), lapply(d[setdiff(names(d), "study")], arr)),
      estimate = num(m$beta), se = num(m$se), ci_low = num(m$ci.lb), ci_high = num(m$ci.ub),
      statistic = num(m$zval), p = num(m$pval), q = num(m$QE), q_p = num(m$QEp),
      mh = num(m$MH), mh_p = num(m$MHp), k = m$k)
  }
}
bcg2 <- with(dat.bcg, data.frame(study = paste(author, year), events_e = tpos, n_e = tpos + tneg,
                                 events_c = cpos, n_c = cpos + cneg))
for (measure in c("OR", "RR", "RD")) {
  txt <- sprintf('rma.mh(ai = events_e, n1i = n_e, ci = events_c, n2i = n_c, data = d, measure = "%s")', measure)
  d <- bcg2
  m <- eval(parse(text = txt))
  mh_cases[[length(mh_cases) + 1]] <- list(
    case = paste("bcg", measure, "MH", sep = "_"), dataset = "bcg", measure = measure, r_call = txt,
    input = c(list(study = I(d$study)), lapply(d[setdiff(names(d), "study")], arr)),
    estimate = num(m$beta), se = num(m$se), q = num(m$QE), q_p = num(m$QEp),
    cmh = num(m$MH), cmh_p = num(m$MHp), tarone = num(m$TA), tarone_p = num(m$TAp), k = m$k)
}
write_fixture(mh_cases, "mh", "rma.mh(): incidence-rate ratios and differences; the Cochran-Mantel-Haenszel and Tarone tests for odds ratios.")

# ---------------------------------------------------------------------------
# Model comparison: anova() likelihood-ratio tests and Wald tests of coefficient subsets
# ---------------------------------------------------------------------------

fs_list <- function(fit) {
  f <- fitstats(fit)
  list(loglik = num(f[1]), deviance = num(f[2]), aic = num(f[3]), bic = num(f[4]), aicc = num(f[5]),
       parms = fit$parms, tau2 = num(fit$tau2), qe = num(fit$QE))
}
bcgm <- bcg
bcgm$alloc <- as.character(dat.bcg$alloc)
anova_cases <- list()
LRT <- list(
  list(name = "ML_ablat_year_vs_ablat", method = "ML", full = "~ ablat + year", reduced = "~ ablat"),
  list(name = "ML_ablat_vs_intercept", method = "ML", full = "~ ablat", reduced = "~ 1"),
  list(name = "ML_alloc_ablat_vs_intercept", method = "ML", full = "~ factor(alloc) + ablat", reduced = "~ 1"),
  list(name = "REML_ablat_vs_intercept", method = "REML", full = "~ ablat", reduced = "~ 1"))
for (cs in LRT) {
  full_text <- sprintf('rma(yi, vi, mods = %s, data = bcgm, method = "%s", control = %s)', cs$full, cs$method,
                       CONTROL_TEXT)
  red_text <- sprintf('rma(yi, vi, mods = %s, data = bcgm, method = "%s", control = %s)', cs$reduced, cs$method,
                      CONTROL_TEXT)
  full <- eval(parse(text = full_text))
  red <- eval(parse(text = red_text))
  a <- suppressWarnings(anova(full, red))
  anova_cases[[length(anova_cases) + 1]] <- list(
    case = paste("bcg_lrt", cs$name, sep = "_"), kind = "LRT", method = cs$method, full = cs$full,
    reduced = cs$reduced,
    r_call = paste0("bcgm <- escalc(\"RR\", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg); ",
                    "full <- ", full_text, "; reduced <- ", red_text, "; anova(full, reduced)"),
    input = list(study = I(paste(dat.bcg$author, dat.bcg$year)), yi = arr(bcgm$yi), vi = arr(bcgm$vi),
                 ablat = arr(bcgm$ablat), year = arr(bcgm$year), alloc = I(bcgm$alloc)),
    lrt = num(a$LRT), df = num(a$parms.f - a$parms.r), p = num(a$pval), r2 = num(a$R2),
    fit_full = fs_list(full), fit_reduced = fs_list(red))
}
WALD <- list(
  list(name = "z_year_of_ablat_year", test = "z", mods = "~ ablat + year", btt = "3"),
  list(name = "z_both_of_ablat_year", test = "z", mods = "~ ablat + year", btt = "2:3"),
  list(name = "z_alloc_of_alloc_ablat", test = "z", mods = "~ factor(alloc) + ablat", btt = "2:3"),
  list(name = "knha_alloc_of_alloc_ablat", test = "knha", mods = "~ factor(alloc) + ablat", btt = "2:3"))
for (cs in WALD) {
  fit_text <- sprintf('rma(yi, vi, mods = %s, data = bcgm, method = "REML", test = "%s", control = %s)', cs$mods,
                      cs$test, CONTROL_TEXT)
  fit <- eval(parse(text = fit_text))
  a_text <- sprintf("anova(fit, btt = %s)", cs$btt)
  a <- eval(parse(text = a_text))
  anova_cases[[length(anova_cases) + 1]] <- list(
    case = paste("bcg_wald", cs$name, sep = "_"), kind = "Wald", method = "REML", test = cs$test, mods = cs$mods,
    btt = I(eval(parse(text = cs$btt))),
    r_call = paste0("bcgm <- escalc(\"RR\", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg); fit <- ",
                    fit_text, "; ", a_text),
    input = list(study = I(paste(dat.bcg$author, dat.bcg$year)), yi = arr(bcgm$yi), vi = arr(bcgm$vi),
                 ablat = arr(bcgm$ablat), year = arr(bcgm$year), alloc = I(bcgm$alloc)),
    qm = num(a$QM), qm_df = num(a$QMdf[1]), qm_df2 = num(a$QMdf[2]), p = num(a$QMp), coef_names = I(names(coef(fit))))
}
write_fixture(anova_cases, "anova", "anova(): likelihood-ratio tests of nested fits and Wald tests of coefficient subsets (btt).")
